"""`facefill weights ...`: list, download, verify, locate, inspect, import and remove checkpoints."""

from __future__ import annotations

import json
import sys

import click

from facefill.errors import WeightsError

_GROUP_MODES = "weights_modes"  # ctx.obj key: --offline / --require-hash given before the subcommand


def _mode_options(fn):
    """--offline / --require-hash, accepted on the group and on every subcommand (either switches on)."""
    from facefill.cli.weights_options import offline_option, require_hash_option

    return offline_option(require_hash_option(fn))


def _context(ctx: click.Context, offline: bool, require_hash: bool):
    """This invocation's RunContext: the subcommand's flags or the group's."""
    from facefill.cli.context import run_context

    group = ctx.find_object(dict) or {}
    modes = group.get(_GROUP_MODES, {})
    return run_context(ctx, {
        "offline": offline or modes.get("offline", False),
        "require_hash": require_hash or modes.get("require_hash", False),
    })


def _human(n: int) -> str:
    if not n:
        return "?"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def _console():
    from rich.console import Console

    return Console(width=None if sys.stdout.isatty() else 240, soft_wrap=False)


@click.group("weights")
@_mode_options
@click.pass_context
def weights(ctx: click.Context, offline: bool, require_hash: bool) -> None:
    """Manage pretrained checkpoints (registry: weights.toml; cache: FACEFILL_HOME).

    \b
    Examples:
      facefill weights list
      facefill weights download stylegan2-ffhq-1024-ema e4e-ffhq
      facefill weights import deepfillv2-celebahq ~/Downloads/states_pt_celebahq.pth
      facefill weights verify
    """
    ctx.ensure_object(dict)[_GROUP_MODES] = {"offline": offline, "require_hash": require_hash}


@weights.command("list")
@_mode_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def list_cmd(ctx: click.Context, as_json: bool, offline: bool, require_hash: bool) -> None:
    """Every registered checkpoint with size, licence and local state."""
    from facefill.weights import entries, locate

    context = _context(ctx, offline, require_hash)
    rows = []
    for e in entries():
        found = locate(e.name, context)
        rows.append({
            "name": e.name,
            "architecture": e.architecture,
            "size": e.display_size,
            "license": e.license,
            "non_commercial": e.non_commercial,
            "source": _source_kind(e),
            "cached": found is not None,
            "origin": found.origin if found else None,
            "verified": found.verified if found else None,
            "path": str(found.path) if found else None,
        })
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    from rich.table import Table

    table = Table(title="facefill checkpoints")
    table.add_column("name", no_wrap=True)
    table.add_column("size", justify="right", no_wrap=True)
    table.add_column("licence", overflow="fold")
    table.add_column("source", no_wrap=True)
    table.add_column("cached", no_wrap=True)
    table.add_column("verified", no_wrap=True)
    for r in rows:
        lic = ("[bold red]NON-COMMERCIAL[/] " if r["non_commercial"] else "") + _escape(r["license"])
        cached = r["origin"] if r["cached"] else "-"
        unknown = "?" if r["cached"] else "-"
        verified = {True: "[green]yes[/]", False: "[red]NO[/]", None: unknown}[r["verified"]]
        table.add_row(r["name"], _human(r["size"]), lic, r["source"], cached, verified)
    _console().print(table)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _source_kind(e) -> str:
    if not e.sources:
        return "manual import"
    if e.asset:
        return "package"
    kinds = "+".join(dict.fromkeys(s.kind for s in e.sources))
    return kinds + (" (tofu)" if not e.sha256 else "")


@weights.command("download")
@_mode_options
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Every entry that has a download source.")
@click.option("--force", is_flag=True, help="Download again even if a verified copy is cached.")
@click.pass_context
def download_cmd(
    ctx: click.Context, names: tuple[str, ...], all_: bool, force: bool, offline: bool, require_hash: bool
) -> None:
    """Download checkpoints into the cache (verified; safe to run twice or in parallel)."""
    from facefill.errors import UsageError
    from facefill.weights import entries, entry, resolve
    from facefill.weights.download import download
    from facefill.weights.verify import file_sha256

    if all_ and names:
        raise UsageError("give NAMEs or --all, not both")
    if not all_ and not names:
        raise UsageError("name the checkpoints to download (see `facefill weights list`) or pass --all")
    context = _context(ctx, offline, require_hash)
    todo = [e.name for e in entries() if e.downloadable] if all_ else list(names)
    failed = 0
    for name in todo:
        try:
            forced = force and entry(name).downloadable
            path = download(entry(name), context, force=True) if forced else resolve(name, context)
            click.echo(f"{name}: {path} (sha256 {file_sha256(path)})")
        except WeightsError as exc:
            if len(todo) == 1:
                raise
            failed += 1
            click.echo(f"error: {exc}", err=True)
    if all_:
        manual = [e.name for e in entries() if not e.sources]
        if manual:
            listed = ", ".join(manual)
            click.echo(f"not downloadable (import by hand, see `facefill weights info NAME`): {listed}")
    if failed:
        raise WeightsError(f"{failed} of {len(todo)} checkpoint(s) could not be downloaded")


@weights.command("verify")
@_mode_options
@click.argument("names", nargs=-1)
@click.pass_context
def verify_cmd(ctx: click.Context, names: tuple[str, ...], offline: bool, require_hash: bool) -> None:
    """Re-hash local checkpoints (all available ones by default); a damaged cached copy is deleted."""
    from facefill.weights import entries, entry, locate
    from facefill.weights.manage import verify
    from facefill.weights.verify import expected_sha256

    context = _context(ctx, offline, require_hash)
    todo = list(names) or [e.name for e in entries() if locate(e.name, context) is not None]
    if not todo:
        click.echo("no checkpoints available locally; nothing to verify")
        return
    failed = 0
    for name in todo:
        try:
            path, sha = verify(name, context)
            note = "" if expected_sha256(entry(name)) else " (no known hash to compare with)"
            click.echo(f"ok {name}: {path} sha256 {sha}{note}")
        except WeightsError as exc:
            failed += 1
            click.echo(f"FAILED {name}: {exc}", err=True)
    if failed:
        raise WeightsError(f"{failed} of {len(todo)} checkpoint(s) failed verification")


@weights.command("path")
@_mode_options
@click.argument("name")
@click.pass_context
def path_cmd(ctx: click.Context, name: str, offline: bool, require_hash: bool) -> None:
    """Print the local file NAME resolves to (never downloads)."""
    from facefill.weights import entry, locate

    entry(name)
    found = locate(name, _context(ctx, offline, require_hash))
    if found is None:
        raise WeightsError(f"weights {name} is not available locally; run `facefill weights download {name}`")
    click.echo(str(found.path))


@weights.command("info")
@_mode_options
@click.argument("name")
@click.pass_context
def info_cmd(ctx: click.Context, name: str, offline: bool, require_hash: bool) -> None:
    """Everything known about one checkpoint: sources, hash, licence, key map, local copy."""
    from facefill.weights import entry, locate
    from facefill.weights.verify import trusted_sha256

    e = entry(name)
    lines = [
        f"name:          {e.name}",
        f"description:   {e.description}",
        f"architecture:  {e.architecture}",
        f"format:        {e.format}",
        f"size:          {e.size or ('≈' + _human(e.approx_size) if e.approx_size else 'unknown')}"
        + (f" ({_human(e.size)})" if e.size else ""),
    ]
    if e.sha256:
        lines.append(f"sha256:        {e.sha256}")
    elif e.asset:
        lines.append("sha256:        of the installed file (package asset, trusted like the code)")
    else:
        seen = trusted_sha256(e.name)
        lines.append("sha256:        none published (trusted on first use; refused with --require-hash)")
        lines.append(f"recorded:      {seen or 'not yet'}")
    lines.append(f"licence:       {e.license}")
    if e.non_commercial:
        lines.append("               NON-COMMERCIAL use only")
    lines.append(f"upstream:      {e.upstream}")
    lines.append(f"loads as:      {e.kind}" + (f" ({_config_text(e.config)})" if e.config else ""))
    for i, src in enumerate(e.sources, 1):
        lines.append(f"source {i}:      {src.describe()}")
    if not e.sources:
        lines.append(f"get it by hand: {e.manual}")
        lines.append(f"               then: facefill weights import {e.name} PATH")
    if not e.keymap.is_identity:
        lines.append(f"key map:       {_keymap_text(e.keymap)}")
    for view, km in e.views.items():
        build = e.build_for(view)
        into = f" -> {build.architecture}" if build.is_module and view in e.view_builds else ""
        into += f" ({build.kind})" if not build.is_module else ""
        lines.append(f"view {view}:{' ' * max(1, 8 - len(view))}{_keymap_text(km)}{into}")
    found = locate(name, _context(ctx, offline, require_hash))
    if found is None:
        lines.append("local copy:    none")
    else:
        state = {True: "verified", False: "HASH MISMATCH", None: "not verified yet"}[found.verified]
        lines.append(f"local copy:    {found.path} ({found.origin}, {state})")
    click.echo("\n".join(lines))


def _config_text(config: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())


def _keymap_text(km) -> str:
    parts = []
    if km.take:
        parts.append(f"take {km.take!r}")
    if km.flatten:
        parts.append("join " + ", ".join(repr(p) for p in km.flatten))
    if km.select_prefix:
        parts.append(f"keys under {km.select_prefix!r}")
    if km.strip_prefix:
        parts.append("strip " + ", ".join(repr(p) for p in km.strip_prefix))
    if km.drop:
        parts.append("drop " + ", ".join(repr(k) for k in km.drop))
    return "; ".join(parts) or "as is"


@weights.command("import")
@_mode_options
@click.argument("name")
@click.argument("path", type=click.Path(dir_okay=False))
def import_cmd(name: str, path: str, offline: bool, require_hash: bool) -> None:
    """Copy a file you downloaded yourself into the cache as NAME (hash-checked when known)."""
    from facefill.weights.manage import import_file
    from facefill.weights.verify import file_sha256

    final = import_file(name, path)
    click.echo(f"{name}: imported to {final} (sha256 {file_sha256(final)})")


@weights.command("remove")
@_mode_options
@click.argument("names", nargs=-1, required=True)
def remove_cmd(names: tuple[str, ...], offline: bool, require_hash: bool) -> None:
    """Delete cached copies (files given by --weights or FACEFILL_WEIGHTS_DIR are never touched)."""
    from facefill.weights.manage import remove

    for name in names:
        click.echo(f"{name}: {'removed' if remove(name) else 'nothing cached'}")
