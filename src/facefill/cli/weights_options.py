"""`--weights NAME=PATH`, `--offline` and `--require-hash` for any command that loads checkpoints.

Usage::

    @click.command()
    @weights_options
    @click.pass_context
    def inpaint(ctx, **kw):
        context = run_context(ctx, kw)   # facefill.cli.context

The options are plain values (`weights_overrides`, `offline`, `require_hash`) that
`facefill.cli.context.run_context` turns into the run's `RunContext`; nothing is stored globally.
Only the NAME=PATH syntax is checked here; names and files are checked when the context is built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable)

WEIGHTS_KEY = "weights_overrides"


def parse_weight_overrides(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Turn ("NAME=PATH", ...) into {NAME: PATH}; click.BadParameter on malformed items."""
    parsed: dict[str, str] = {}
    for item in values:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise click.BadParameter(f"{item!r} is not NAME=PATH (e.g. --weights lama-big=~/big-lama.pt)")
        parsed[name.strip()] = path.strip()
    return parsed


def _check_syntax(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    parse_weight_overrides(values)
    return values


def offline_option(fn: F) -> F:
    return click.option(
        "--offline",
        is_flag=True,
        help="Never use the network; fail at once if a checkpoint is not cached (also: HF_HUB_OFFLINE=1).",
    )(fn)


def require_hash_option(fn: F) -> F:
    return click.option(
        "--require-hash",
        is_flag=True,
        help="Refuse checkpoints without a published sha256 (no trust on first use).",
    )(fn)


def weights_options(fn: F) -> F:
    """Add `--weights NAME=PATH` (repeatable), `--offline` and `--require-hash` to a click command."""
    fn = require_hash_option(fn)
    fn = offline_option(fn)
    fn = click.option(
        "--weights",
        WEIGHTS_KEY,
        multiple=True,
        metavar="NAME=PATH",
        callback=_check_syntax,
        help="Use a local checkpoint file for registry entry NAME (repeatable). See `facefill weights list`.",
    )(fn)
    return fn
