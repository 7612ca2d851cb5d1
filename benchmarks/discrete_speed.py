"""synthesize-discrete speed: CPU seconds per photo with real-size random weights (no checkpoints needed).

    python benchmarks/discrete_speed.py [--threads N] [--runs 2] [--batch 1] [--stack sdgan ffhq]
                                        [--photo PATH] [--refine-steps 2]

Per stack it prints the seconds per aligned face of one pipeline call (inversion + offset net +
two renders: G(w) and G(edit)), the seconds per refinement step (a forward and backward pass through
the generator; the sdgan stack refines 50 steps by default, having no encoder), and, with --photo,
the whole photo through the processor (detection, alignment, paste-back, batch of one).
  sdgan: SD-GAN's 256 px generator + fusion net (128 M parameters) + unsup3d;
  ffhq:  FFHQ-1024 generator + e4e (ψ = 1, n_o = 0).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence

import torch

from facefill.models import build
from facefill.pipelines.discrete import DiscreteNetworks, DiscretePipeline, DiscreteRequest


def networks(stack: str) -> DiscreteNetworks:
    torch.manual_seed(0)
    if stack == "sdgan":
        g = build("stylegan2-generator", size=256).eval()
        mean = g.mean_latent(4096, generator=torch.Generator().manual_seed(0))
        return DiscreteNetworks(
            g,
            fusion=build("sdgan-fusion").eval(),
            unsup3d=build("unsup3d").eval(),
            truncation=0.5,
            mean_latent=mean,
        )
    g = build("stylegan2-generator", size=1024).eval()
    encoder = build("e4e-encoder").eval()
    return DiscreteNetworks(g, encoder=encoder, latent_avg=torch.zeros(512), truncation=1.0)


def seconds(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--refine-steps", type=int, default=2, help="steps timed to get seconds per step")
    parser.add_argument("--stack", nargs="+", default=["sdgan", "ffhq"], choices=["sdgan", "ffhq"])
    parser.add_argument("--photo", help="also time one real photo end to end (sdgan stack)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), batch {args.batch}, CPU process time")
    for stack in args.stack:
        time_stack(stack, args)
    return 0


def time_stack(stack: str, args: argparse.Namespace) -> None:
    nets = networks(stack)
    pipe = DiscretePipeline(nets, {"glasses": torch.randn(512)})
    faces = torch.rand(args.batch, 3, nets.size, nets.size)

    def call(steps: int) -> None:
        gens = [torch.Generator().manual_seed(i) for i in range(args.batch)]
        pipe(DiscreteRequest(faces, "glasses", strength=1.0, refine_steps=steps, generators=gens))

    base = seconds(lambda: call(0), args.runs) / args.batch
    refined = seconds(lambda: call(args.refine_steps), max(1, args.runs // 2)) / args.batch
    per_step = (refined - base) / max(args.refine_steps, 1)
    print(
        f"{stack:5s} {nets.size:4d} px: {base:7.2f} s/face (no refinement), {per_step:6.2f} s/refinement step"
    )
    if args.photo and stack == "sdgan":
        total = photo_seconds(pipe, args.photo)
        print(f"sdgan photo {args.photo}: {total:.2f} s (detect + align + edit + paste back)")


def photo_seconds(pipe: DiscretePipeline, path: str) -> float:
    from pathlib import Path

    from facefill.io.images import read_image
    from facefill.jobs.discrete_job import DiscreteProcessor, DiscreteSettings
    from facefill.jobs.plan import WorkItem
    from facefill.pipelines.discrete.loading import StackChoice
    from facefill.runtime.context import RunContext

    settings = DiscreteSettings(StackChoice("sdgan", "glasses", "given"), refine_steps=0)
    proc = DiscreteProcessor(settings, RunContext(device="cpu"), pipeline=pipe)
    item = WorkItem(Path(path), Path(Path(path).name), Path("unused.png"), Path("unused.json"))
    image = read_image(path)
    return seconds(lambda: proc.process([(item, image)]), 1)


if __name__ == "__main__":
    sys.exit(main())
