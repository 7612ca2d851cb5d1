"""items/s of facefill-lite inpainting on N generated 256x256 images: local runner vs Ray on this machine.

    python benchmarks/ray_throughput.py [--count 500] [--cpus 2] [--model facefill-lite]

Images and masks come from `batch_throughput.make_images` (smooth random fields, 5-25 % holes).
Runs in one process through the Python API (no CLI start-up), crop around the hole (no face
alignment: the generated images have no faces). Where Ray's overhead goes is printed as parts:
  cluster start   `ray.init` of a private local cluster
  actor start     a no-op actor pool doing one call per actor
  per call        the same dataset shape through no-op actors: first to last result, per call and actor
  row encoding    pickling the work items the driver sends (paths only)
  model start     building one processor (torch, weights) as each actor does once
"""

from __future__ import annotations

import argparse
import functools
import logging
import math
import pickle
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_throughput import make_images  # noqa: E402
from facefill.jobs.inpaint_job import InpaintProcessor, InpaintSettings  # noqa: E402
from facefill.jobs.plan import PlanRequest, build_plan  # noqa: E402
from facefill.jobs.ray_runner import actor_pool, rows_per_call, run_job_ray, start_local_ray  # noqa: E402
from facefill.jobs.ray_worker import encode_item  # noqa: E402
from facefill.jobs.runner import RunOptions, run_job  # noqa: E402
from facefill.runtime.context import RunContext  # noqa: E402


class _NoOp:
    def __call__(self, batch: dict) -> dict:
        return {"index": batch["index"]}


def plan(folder: Path, out: str) -> list:
    return build_plan(
        PlanRequest(inputs=(str(folder / "in"),), output=str(folder / out), mask=str(folder / "masks"))
    )


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray (= CPU actors)")
    parser.add_argument("--model", default="facefill-lite")
    args = parser.parse_args()
    settings = InpaintSettings(model=args.model, align_faces=False)
    factory = functools.partial(InpaintProcessor, settings, context=RunContext(device="cpu"))
    options = RunOptions(workers=2, batch_size=1)

    with tempfile.TemporaryDirectory(prefix="facefill-ray-bench-") as tmp:
        folder = Path(tmp)
        make_images(folder, args.count)
        processor, model_s = timed(lambda: factory(lambda m: None))
        local, local_s = timed(lambda: run_job(plan(folder, "out_local"), processor, options))
        print(
            f"local runner: {local.counts['done'] / local_s:.2f} items/s "
            f"({local_s:.1f} s, model start {model_s:.1f} s)"
        )

        _, start_s = timed(lambda: start_local_ray(args.cpus))
        import ray

        items = plan(folder, "out_ray")
        rows, encode_s = timed(lambda: [encode_item(i, item) for i, item in enumerate(items)])
        actors, _ = actor_pool(ray.cluster_resources(), len(items))
        per_call = rows_per_call(len(items), actors, options.batch_size)
        blocks = math.ceil(len(items) / per_call)
        logging.getLogger("ray.data").setLevel(logging.ERROR)

        def no_op(calls: int) -> tuple[float, float]:
            """(wall s, s from the first result to the last: the steady-state part, after actor start)."""
            dataset = ray.data.from_items(rows, override_num_blocks=calls).map_batches(
                _NoOp,
                batch_size=math.ceil(len(rows) / calls),
                compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1),
            )
            start, seen = time.perf_counter(), []
            for _ in dataset.iter_batches(batch_size=None):
                seen.append(time.perf_counter())
            return seen[-1] - start, seen[-1] - seen[0]

        startup_s, _ = no_op(actors)  # one call per actor: actor start + one round trip
        calls_s, steady_s = no_op(blocks)
        per_call_ms = 1000 * steady_s * actors / max(1, blocks - 1)
        summary, ray_s = timed(lambda: run_job_ray(items, factory, options))
        ray.shutdown()
        compute = sum(sum(r.timings_ms.values()) for r in summary.results) / 1000
        print(
            f"ray ({actors} CPU actors, {per_call} rows/call, {blocks} calls): "
            f"{summary.counts['done'] / ray_s:.2f} items/s ({ray_s:.1f} s; {summary.counts})"
        )
        print(
            f"  cluster start {start_s:.1f} s (once per run without --ray auto)\n"
            f"  actor start {startup_s:.1f} s (no-op actors, one call each)\n"
            f"  per call {per_call_ms:.1f} ms/call/actor ({blocks} no-op calls: {calls_s:.1f} s in all)\n"
            f"  row encoding {1000 * encode_s:.1f} ms for {len(rows)} rows, "
            f"{sum(len(pickle.dumps(r)) for r in rows) / len(rows):.0f} B/row\n"
            f"  model start {model_s:.1f} s per actor (in parallel)\n"
            f"  item work {compute:.1f} s summed over actors (decode+compute+encode), "
            f"{compute / actors:.1f} s per actor"
        )


if __name__ == "__main__":
    main()
