"""The command line of this run, as the user typed it (recorded by the CLI, read by sidecars).

Kept here, not read from sys.argv, because facefill also runs inside other programs (tests, notebooks,
`python -m facefill`), where sys.argv is someone else's.
"""

from __future__ import annotations

import shlex
import sys

_argv: list[str] | None = None


def set_argv(args: list[str]) -> None:
    """Record the arguments after `facefill` (called once the CLI starts parsing)."""
    global _argv
    _argv = list(args)


def command_line() -> str:
    """The command as the user would retype it (`facefill ...`), shell-quoted."""
    return shlex.join(["facefill", *(_argv if _argv is not None else sys.argv[1:])])
