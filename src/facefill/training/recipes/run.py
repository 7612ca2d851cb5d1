"""Train a recipe with constructor options (`facefill train` has no flag for architecture options yet).

    python -m facefill.training.recipes.run --recipe sacgan --data DIR --out RUN --steps 20000 \
        --batch-size 8 --option base_dim=32 --option max_conv_dim=256 --option style_dim=64 [--resume]

Same loop, checkpoints and export as `facefill train` (training.launch); `--option KEY=VALUE` are
the recipe's constructor options (VALUE parsed as JSON when it is JSON, else kept as a string).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from facefill.runtime.context import RunContext
from facefill.training.launch import TrainRun, launch
from facefill.training.recipe import DataSpec
from facefill.training.trainer import TrainConfig


def _option(text: str) -> tuple[str, object]:
    key, _, raw = text.partition("=")
    try:
        return key, json.loads(raw)
    except ValueError:
        return key, raw


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe", required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--masks", default="freeform")
    p.add_argument("--size", type=int, default=256, help="face cache size (sacgan uses its img_size)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--adv-start", type=int, default=0)
    p.add_argument("--ckpt-every", type=int, default=500)
    p.add_argument("--sample-every", type=int, default=500)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--lr-d", type=float, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", type=Path, default=None)
    p.add_argument("--option", action="append", default=[], type=_option, help="recipe option KEY=VALUE")
    p.add_argument("--resume", action="store_true")
    args = p.parse_args(argv)
    run = TrainRun(
        data=DataSpec(
            data=args.data,
            masks=args.masks,
            size=args.size,
            batch_size=args.batch_size,
            seed=args.seed,
            cache_dir=args.cache_dir,
        ),
        config=TrainConfig(
            steps=args.steps,
            lr=args.lr,
            lr_d=args.lr_d,
            adv_start=args.adv_start,
            seed=args.seed,
            ckpt_every=args.ckpt_every,
            sample_every=args.sample_every,
            log_every=args.log_every,
        ),
        out=args.out,
        recipe=args.recipe,
        recipe_options=dict(args.option),
        resume=args.resume,
        workers=0,
    )
    launch(run, RunContext(device=args.device, progress=False), log=print)


if __name__ == "__main__":
    main()
