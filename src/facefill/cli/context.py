"""Build the one `RunContext` of a CLI invocation from its options.

Every command calls `run_context(ctx, kw)` once and passes the result down (jobs, pipelines, the
weights layer); nothing below the CLI reads options, environment-derived switches or argv itself.
Only light imports here: `--help` must stay fast.
"""

from __future__ import annotations

from typing import Any

import click

from facefill.runtime.context import RunContext

COMMAND_KEY = "command"  # ctx.obj key: the command line as typed (set by LazyGroup.parse_args)


def command_line(ctx: click.Context) -> str:
    """`facefill ...` as the user typed it; the command path when run outside the facefill group."""
    obj = ctx.find_root().obj
    recorded = obj.get(COMMAND_KEY) if isinstance(obj, dict) else None
    return recorded or ctx.command_path


def quiet(ctx: click.Context, kw: dict[str, Any] | None = None) -> bool:
    """`facefill -q ...` or a command's own --quiet."""
    obj = ctx.find_root().obj
    return bool(isinstance(obj, dict) and obj.get("quiet")) or bool((kw or {}).get("quiet_local"))


def run_context(ctx: click.Context, kw: dict[str, Any]) -> RunContext:
    """The run settings from the command's option values (`kw`) and the group's (`ctx.obj`).

    `--weights NAME=PATH` is checked here (known name, existing file): a mistake exits with 2
    before any model loads. Options a command does not have take their defaults.
    """
    from facefill.cli.weights_options import WEIGHTS_KEY, parse_weight_overrides
    from facefill.errors import WeightsError
    from facefill.weights import checked_overrides

    raw = kw.get(WEIGHTS_KEY) or ()
    try:
        weights = checked_overrides(parse_weight_overrides(raw))
    except WeightsError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param_hint="'--weights'") from None
    return RunContext(
        device=kw.get("device") or "auto",
        weights=weights,
        offline=True if kw.get("offline") else None,  # None: HF_HUB_OFFLINE / FACEFILL_OFFLINE decide
        require_hash=bool(kw.get("require_hash")),
        seed=int(kw.get("seed") or 0),
        progress=False if quiet(ctx, kw) else None,
        command=command_line(ctx),
    )
