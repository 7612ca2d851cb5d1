"""`--weights NAME=PATH` and `--offline` for any command that loads checkpoints.

Usage::

    @click.command()
    @weights_options
    def inpaint(...): ...

The options are handled by callbacks that store their values in the weights layer
(`facefill.weights.set_overrides` / `set_offline`), so the decorated function receives no extra
arguments. Nothing heavy is imported here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

F = TypeVar("F", bound=Callable)


def parse_weight_overrides(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """Turn ("NAME=PATH", ...) into {NAME: PATH}; click.BadParameter on malformed items."""
    parsed: dict[str, str] = {}
    for item in values:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise click.BadParameter(f"{item!r} is not NAME=PATH (e.g. --weights lama-big=~/big-lama.pt)")
        parsed[name.strip()] = path.strip()
    return parsed


def _store_overrides(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> None:
    # Settings are per invocation: no --weights means no overrides left from an earlier call.
    from facefill.errors import WeightsError
    from facefill.weights import set_overrides

    try:
        set_overrides(parse_weight_overrides(values))
    except WeightsError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None


def _store_offline(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    from facefill.weights import set_offline

    set_offline(True if value else None)  # None: HF_HUB_OFFLINE / FACEFILL_OFFLINE decide


def weights_options(fn: F) -> F:
    """Add `--weights NAME=PATH` (repeatable) and `--offline` to a click command."""
    fn = click.option(
        "--offline",
        is_flag=True,
        expose_value=False,
        callback=_store_offline,
        help="Never use the network; fail at once if a checkpoint is not cached (also: HF_HUB_OFFLINE=1).",
    )(fn)
    fn = click.option(
        "--weights",
        "weights_overrides",
        multiple=True,
        metavar="NAME=PATH",
        expose_value=False,
        callback=_store_overrides,
        help="Use a local checkpoint file for registry entry NAME (repeatable). See `facefill weights list`.",
    )(fn)
    return fn
