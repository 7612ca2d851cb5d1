"""facefill-lite v2 speed and size next to v1: ms per 256×256 face at batch 1 on the CPU, parameters, MB.

    python benchmarks/lite_v2_speed.py [--threads 2] [--runs 20] [--weights RUN/ema_generator.safetensors]

Issue 15's budget: <= 100 ms per 256² face at batch 1 on this CPU (Telea step included, as the
model runs in `facefill inpaint`), <= 15 MB of weights. Speed does not depend on the weights, so an
untrained network of the default architecture is timed unless --weights is given. Both models run in
the same process, one after the other, on the same problem (lite_speed.py's ~26 % elliptic hole), so
their ratio is meaningful even when other jobs share the cores. With --threads 1 the CPU time of the
thread is printed too (robust to contention).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from facefill.models.registry import build, from_checkpoint  # noqa: E402
from facefill.pipelines.lite import LiteInpainter, load_lite_generator  # noqa: E402
from lite_speed import _problem, time_ms  # noqa: E402


def load_v2(path: str | None) -> torch.nn.Module:
    """The v2 export at `path` (architecture config from its metadata), or an untrained default v2."""
    if path is None:
        return build("facefill-lite-v2").eval()
    from facefill.weights.safe_load import load_safetensors, safetensors_metadata

    meta = safetensors_metadata(Path(path))
    config = {k: json.loads(meta[k]) for k in ("widths", "dilations", "blocks") if k in meta}
    return from_checkpoint("facefill-lite-v2", load_safetensors(Path(path)), **config)


def report(name: str, model: torch.nn.Module, runs: int) -> None:
    params = sum(p.numel() for p in model.parameters())
    fill = LiteInpainter(model)
    x, m = _problem()
    total = time_ms(lambda: fill.fill_tensors(x, m), runs)
    cl = torch.channels_last
    xc, mc = x.contiguous(memory_format=cl), m.contiguous(memory_format=cl)
    with torch.inference_mode():
        net = time_ms(lambda: fill.model(xc, mc), runs)
    line = (
        f"{name:<17} {params / 1e6:5.2f} M params {params * 4 / 1e6:5.1f} MB | batch 1, 256²: "
        f"median {statistics.median(total):6.1f} ms/image incl. Telea "
        f"(network alone {statistics.median(net):6.1f} ms; min {min(total):.1f}, max {max(total):.1f})"
    )
    if torch.get_num_threads() == 1:
        cpu = time_ms(lambda: fill.fill_tensors(x, m), runs, clock=time.process_time)
        line += f" | cpu time {statistics.median(cpu):.1f} ms"
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--weights", default=None, help="a facefill-lite-v2 export (default: untrained v2)")
    ap.add_argument("--no-v1", action="store_true", help="skip the shipped facefill-lite for comparison")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"cpu, {torch.get_num_threads()} threads")
    if not args.no_v1:
        report("facefill-lite", load_lite_generator(), args.runs)
    report("facefill-lite-v2", load_v2(args.weights), args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
