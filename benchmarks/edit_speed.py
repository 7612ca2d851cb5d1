"""facefill edit speed on this CPU with real-size random networks (no checkpoints needed).

    python benchmarks/edit_speed.py [--threads 1] [--batch 1] [--skip-fast] [--run-paper]

Real sizes: StyleGAN2-FFHQ 1024 generator, MaskFaceGAN BranchedTiny classifier, DeepLabV3-ResNet50
parser (all random). Per preset it times each kind of step (latent step before the classifier
starts, latent step with the classifier, a dynamic-masking step that also parses the rendering, a
noise-phase step) from a short run of that preset's own settings, and multiplies by the number of
steps of each kind the preset runs: paper and default are EXTRAPOLATED (1500 StyleGAN2-1024
forward+backward passes are hours on a CPU; --run-paper runs them for real). fast is run to
completion, and its classifier score (probability of the target outcome) is printed before/after.
With random weights the score only shows that the loop moves the classifier, not edit quality.
"""

from __future__ import annotations

import argparse
import time

import torch

from facefill.models import build
from facefill.pipelines.edit import EditNetworks, EditRequest, maskfacegan_parser, preset, run_edit
from facefill.pipelines.edit.networks import mean_latent

ATTRIBUTE = "mouth_slightly_open"


def networks() -> EditNetworks:
    torch.manual_seed(0)
    g = build("stylegan2-generator", size=1024).eval().requires_grad_(False)
    classifier = build("maskfacegan-classifier").requires_grad_(False)
    with torch.no_grad():  # BN statistics from random images: a default-init classifier is constant
        for m in classifier.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None
        classifier.train()(torch.rand(16, 3, 224, 224, generator=torch.Generator().manual_seed(2)))
    classifier.eval()
    parser = build("maskfacegan-parser").eval().requires_grad_(False)
    return EditNetworks(g, classifier, maskfacegan_parser(parser))


def step_kinds(s, start: int = 0) -> dict[str, int]:
    """How many latent/noise steps of each kind the schedule runs (local attribute, mean init)."""
    counts = {"plain": 0, "classf": 0, "window": 0, "noise": s.steps_noise + 1 if s.steps_noise else 0}
    for i in range(start, s.steps_latent):
        if s.start_steps_seg <= i < s.dynamic_masking_end and s.dynamic_masking:
            counts["window"] += 1
        elif i >= s.start_steps_classf:
            counts["classf"] += 1
        else:
            counts["plain"] += 1
    return counts


def timed_run(nets: EditNetworks, faces: torch.Tensor, schedule) -> tuple[float, list[float], object]:
    stamps: list[float] = []
    start = time.perf_counter()
    rngs = [torch.Generator().manual_seed(i) for i in range(len(faces))]
    request = EditRequest(faces, (ATTRIBUTE,), rngs, schedule=schedule)
    result = run_edit(nets, request, on_step=lambda _e: stamps.append(time.perf_counter()))
    total = time.perf_counter() - start
    return total, [b - a for a, b in zip([start, *stamps[:-1]], stamps, strict=True)], result


def probe(nets: EditNetworks, faces: torch.Tensor, name: str) -> dict[str, float]:
    """Seconds of each step kind at the preset's resolution (a 5 + 2 step run; step 0 warms up)."""
    s = preset(name).override(steps_latent=5, start_steps_classf=2, start_steps_seg=3,
                              dynamic_masking_iters=1, steps_noise=1 if preset(name).steps_noise else 0)
    total, steps, _ = timed_run(nets, faces, s)
    kinds = {"plain": steps[1], "classf": steps[4], "window": steps[3]}
    if s.steps_noise:
        kinds["noise"] = steps[-1]
    kinds["overhead"] = max(total - sum(steps), 0.0) + steps[0] - steps[1]  # parse, final render, warm-up
    return kinds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--skip-fast", action="store_true")
    ap.add_argument("--run-paper", action="store_true", help="Run the paper preset to completion.")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    nets = networks()
    start = time.perf_counter()
    nets.mean_latent = mean_latent(nets.generator)
    print(f"mean latent (50 000 mapping samples, once per process): {time.perf_counter() - start:.1f} s")
    faces = torch.rand(args.batch, 3, 1024, 1024, generator=torch.Generator().manual_seed(1))
    print(f"threads={args.threads} batch={args.batch}; seconds per image")
    probes: dict[int, dict[str, float]] = {}
    for name in ("paper", "default", "fast"):
        resolution = preset(name).loss_resolution  # paper and default share step costs
        if resolution not in probes:
            probes[resolution] = probe(nets, faces, name)
        kinds = probes[resolution]
        counts = step_kinds(preset(name))
        total = sum(kinds.get(k, 0.0) * n for k, n in counts.items()) + kinds["overhead"]
        per_step = ", ".join(f"{k} {kinds.get(k, 0):.2f} s x {n}" for k, n in counts.items())
        print(f"{name:8s} ~{total / args.batch:8.0f} s/image EXTRAPOLATED ({total / 3600:.2f} h per batch): "
              f"{per_step}, overhead {kinds['overhead']:.1f} s")
    if not args.skip_fast:
        total, _steps, result = timed_run(nets, faces, preset("fast"))
        before = result.score_before[:, 0].tolist()
        after = result.score_after[:, 0].tolist()
        print(f"fast     {total / args.batch:9.1f} s/image MEASURED (run to completion); "
              f"P({ATTRIBUTE}) before {before} -> after {after} (target 0.95)")
    if args.run_paper:
        total, _steps, result = timed_run(nets, faces, preset("paper"))
        print(f"paper    {total / args.batch:9.1f} s/image MEASURED; "
              f"P before {result.score_before[:, 0].tolist()} -> after {result.score_after[:, 0].tolist()}")
    else:
        print("paper score: not run on this CPU (use --run-paper, e.g. on a GPU machine)")


if __name__ == "__main__":
    main()
