"""Face parsers, attribute classifier and LPIPS: time per image (random weights, float32, batch 1).

    python benchmarks/networks_parsers.py [--threads 1] [--repeats 3] [--skip-parser]

Prints median wall-clock and process-CPU ms/image over `repeats` timed runs after one warm-up, for:
BiSeNet at 512² (network forward on a normalised input), MaskFaceGAN BranchedTiny at 224²,
LPIPS-VGG at 256² (one pair), MaskFaceGAN DeepLabV3 parser at 512² (unless --skip-parser; it is the
heaviest), FID Inception at 299². Then the same on CUDA when a GPU is present.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from facefill.models import build


def _median_ms(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> tuple[float, float]:
    """Median (wall ms, process-CPU ms) per call; CPU time is robust to a shared, loaded machine."""
    wall, cpu = [], []
    with torch.inference_mode():
        fn()  # warm-up
        sync()
        for _ in range(repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            sync()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) * 1000.0, statistics.median(cpu) * 1000.0


def _cases(device: torch.device, with_parser: bool) -> list[tuple[str, Callable[[], object]]]:
    def make(name: str, **cfg: object) -> torch.nn.Module:
        return build(name, **cfg).eval().to(device)

    bisenet = make("bisenet")
    classifier = make("maskfacegan-classifier")
    lpips = make("lpips-vgg")
    inception = make("fid-inception")
    x512 = torch.randn(1, 3, 512, 512, device=device)
    x224 = torch.rand(1, 3, 224, 224, device=device)
    a256, b256 = torch.rand(1, 3, 256, 256, device=device), torch.rand(1, 3, 256, 256, device=device)
    x299 = torch.rand(1, 3, 299, 299, device=device)
    cases = [
        ("bisenet 512", lambda: bisenet(x512)),
        ("maskfacegan-classifier 224", lambda: classifier(x224)),
        ("lpips-vgg 256 (pair)", lambda: lpips(a256, b256)),
        ("fid-inception 299", lambda: inception(x299)),
    ]
    if with_parser:
        parser = make("maskfacegan-parser")
        cases.append(("maskfacegan-parser 512", lambda: parser(x512)))
    return cases


def run(device: torch.device, repeats: int, with_parser: bool) -> None:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for name, fn in _cases(device, with_parser):
        wall, cpu = _median_ms(fn, repeats, sync)
        print(f"{device.type:5s} {name:30s} {wall:9.1f} ms/image wall {cpu:9.1f} ms CPU", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-parser", action="store_true", help="skip the DeepLabV3 parser")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, CPU threads {args.threads}")
    run(torch.device("cpu"), args.repeats, not args.skip_parser)
    if torch.cuda.is_available():
        run(torch.device("cuda"), max(args.repeats, 10), not args.skip_parser)
    else:
        print("cuda: not available")


if __name__ == "__main__":
    main()
