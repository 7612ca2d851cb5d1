"""Turn expected failures into one-line messages and exit codes (no traceback unless --debug)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import click

from facefill.errors import FacefillError

T = TypeVar("T")


def run_guarded(fn: Callable[[], T], debug: Callable[[], bool] = lambda: False) -> T:
    """Run a command body; print FacefillErrors as `error: ...` and exit with their code."""
    try:
        return fn()
    except FacefillError as exc:
        if debug():
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
