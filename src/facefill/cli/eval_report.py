"""The body of `facefill eval` (imported only when it runs: it needs numpy, torch, cv2)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from facefill.errors import UsageError


def run_eval(ctx: click.Context, **kw) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from facefill.cli.context import run_context
    from facefill.evaluation import pairs as pairs_mod
    from facefill.evaluation.report import contact_sheet, plot_metrics, write_html
    from facefill.evaluation.runner import EvalOptions, evaluate
    from facefill.evaluation.summary import metrics_present, summarise, write_csv
    from facefill.pipelines.registry import get_inpainter

    quiet = bool(ctx.obj and ctx.obj.get("quiet"))
    console = Console(stderr=True, quiet=quiet)
    if bool(kw["pairs_file"]) == bool(kw["make_pairs"]):
        raise UsageError("give exactly one of --pairs FILE or --make-pairs N")
    for name in kw["models"]:
        get_inpainter(name)  # unknown names fail before any work
    out_dir: Path = kw["out_dir"]
    out_dir.mkdir(parents=True, exist_ok=True)
    if kw["make_pairs"]:
        pairs = pairs_mod.make_pairs(
            kw["images_dir"], kw["masks_dir"], kw["make_pairs"], seed=kw["seed"], per_bin=kw["per_bin"]
        )
        pairs_mod.save_pairs(pairs, out_dir / "pairs.json", seed=kw["seed"], per_bin=kw["per_bin"])
    else:
        pairs = pairs_mod.load_pairs(kw["pairs_file"])
    opts = EvalOptions(
        models=list(kw["models"]),
        image_size=kw["image_size"],
        align=kw["align"],
        lpips=not kw["no_lpips"],
        identity=not kw["no_identity"],
        fid=not kw["no_fid"],
        landmarks=not kw["no_landmarks"],
        sheet_pairs=kw["sheet_pairs"],
    )
    context = run_context(ctx, kw)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=True,
    )
    with progress:
        task = progress.add_task("eval", total=len(pairs) * len(opts.models))
        result = evaluate(
            pairs, kw["images_dir"], kw["masks_dir"], opts, on_step=lambda: progress.advance(task),
            context=context,
        )
    if not result.rows:
        raise UsageError(f"no pair could be scored ({'; '.join(result.notes[:3])})")
    summary = summarise(result.rows)
    metrics = metrics_present(result.rows)
    write_csv(result.rows, out_dir / "results.csv")
    images = plot_metrics(summary, metrics, out_dir)
    if result.sheets:
        sheet = out_dir / "contact_sheet.png"
        contact_sheet(result.sheets, list(result.sheets[0]), sheet)
        images.append(sheet)
    (out_dir / "summary.json").write_text(
        json.dumps(
            {
                "summary": summary,
                "fid": result.fid,
                "notes": result.notes,
                "seconds": result.seconds,
                "pairs": len(pairs),
                "models": opts.models,
            },
            indent=1,
            default=str,
        )
    )
    if kw["html"]:
        write_html(out_dir, summary, metrics, result.fid, result.notes, images, "results.csv")
    _print_tables(console, summary, metrics, result)


def _print_tables(console, summary: dict, metrics: list[str], result) -> None:
    from rich.table import Table

    from facefill.evaluation.report import fmt_value
    from facefill.evaluation.summary import METRICS, bins_present

    labels = bins_present(summary)
    for metric in metrics:
        table = Table(title=f"{metric} ({'higher' if METRICS[metric] else 'lower'} is better)")
        table.add_column("model")
        for label in labels:
            table.add_column(label, justify="right")
        for model, per_bin in sorted(summary.items()):
            table.add_row(model, *[fmt_value(per_bin.get(b, {}).get(metric)) for b in labels])
        console.print(table)
    for model, value in sorted(result.fid.items()):
        console.print(f"FID {model}: {fmt_value(value)}")
    for note in result.notes:
        console.print(f"note: {note}")
    console.print(f"{len(result.rows)} scores in {result.seconds:.1f} s")
