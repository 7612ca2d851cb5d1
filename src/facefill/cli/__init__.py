"""The `facefill` command group.

Subcommands live in their own modules and are imported only when invoked (or when `--help`
lists them), so `facefill --help` never imports torch, cv2 or dlib. A subcommand module must keep
its heavy imports inside the command function.
"""

from __future__ import annotations

import importlib
import shlex
import sys

import click

from facefill import __version__
from facefill.cli.context import COMMAND_KEY

# name -> "module:attribute". Add a line here when a subcommand works end to end (no stubs).
COMMANDS: dict[str, str] = {
    "inpaint": "facefill.cli.inpaint:inpaint",
    "mask": "facefill.cli.mask:mask",
    "eval": "facefill.cli.eval:eval_command",
    "align": "facefill.cli.align:align",
    "train": "facefill.cli.train:train",
    "weights": "facefill.cli.weights:weights",
    "synthesize-discrete": "facefill.cli.discrete:synthesize_discrete",
    **dict.fromkeys(("edit", "edit-attribute"), "facefill.cli.edit:edit"),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in COMMANDS:
            module_name, attr = COMMANDS[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attr)
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        # The command line as typed, for sidecars (read by facefill.cli.context.run_context).
        ctx.ensure_object(dict)[COMMAND_KEY] = shlex.join(["facefill", *args])
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context):
        from facefill.cli.errors import run_guarded

        return run_guarded(
            lambda: super(LazyGroup, self).invoke(ctx), debug=lambda: ctx.obj.get("debug", False)
        )


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="facefill")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or summaries; errors only.")
@click.pass_context
def group(ctx: click.Context, debug: bool, quiet: bool) -> None:
    """Face inpainting and face attribute editing.

    \b
    Examples:
      facefill inpaint photo.png --mask mask.png -o out/
      facefill mask --kind freeform --count 100 -o masks/
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["quiet"] = quiet


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    group.main(args=argv if argv is not None else sys.argv[1:], prog_name="facefill", obj={})
