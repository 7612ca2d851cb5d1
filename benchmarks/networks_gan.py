"""Speed of the editing networks: StyleGAN2-1024 synthesis and e4e encoding (random weights).

    python benchmarks/networks_gan.py                      # CPU, 2 threads, then CUDA if present
    python benchmarks/networks_gan.py --device cuda --dtype bf16 --channels-last --compile

Prints milliseconds per image. Random weights cost the same time as the real ones.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable

import torch

from facefill.models import build
from facefill.models.e4e import prepare_e4e_input

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ms(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> list[float]:
    """Wall-clock milliseconds of `repeats` calls after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000)
    return times


def _prepare(model: torch.nn.Module, device: torch.device, dtype: torch.dtype, channels_last: bool,
             compile_model: bool):
    model = model.to(device=device, dtype=dtype).eval()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return torch.compile(model) if compile_model else model


def _autocast(device: torch.device, dtype: torch.dtype):
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def bench_generator(device: torch.device, dtype: torch.dtype, batches: list[int], repeats: int,
                    channels_last: bool, compile_model: bool, size: int) -> None:
    torch.manual_seed(0)
    generator = _prepare(build("stylegan2-generator", size=size), device, torch.float32, channels_last,
                         compile_model)
    for batch in batches:
        z = torch.randn(batch, 512, device=device)
        reps = repeats if batch == 1 else max(1, repeats // 3)

        def run(z=z):
            with torch.inference_mode(), _autocast(device, dtype):
                return generator([z], randomize_noise=False)

        times = time_ms(run, device, reps, warmup=1 if batch == 1 else 0)
        best = min(times)
        print(f"  stylegan2-{size} generator  batch {batch:2d}: {best:9.1f} ms/batch  "
              f"{best / batch:9.1f} ms/image  (best of {len(times)}; all {[round(t) for t in times]})")


def bench_e4e(device: torch.device, dtype: torch.dtype, batch: int, repeats: int,
              channels_last: bool, compile_model: bool) -> None:
    torch.manual_seed(0)
    encoder = _prepare(build("e4e-encoder", stylegan_size=1024), device, torch.float32, channels_last,
                       compile_model)
    latent_avg = torch.zeros(18, 512, device=device)
    images = torch.rand(batch, 3, 1024, 1024, device=device)
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)

    def run():
        with torch.inference_mode(), _autocast(device, dtype):
            x = prepare_e4e_input(images)
            return encoder.encode(x, latent_avg) if not compile_model else encoder(x) + latent_avg

    times = time_ms(run, device, repeats)
    best = min(times)
    print(f"  e4e encode (1024 in, 256 net) batch {batch}: {best:9.1f} ms/batch  {best / batch:9.1f} ms/image"
          f"  (best of {len(times)}; all {[round(t) for t in times]})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="all", choices=["all", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--dtype", default="fp32", choices=sorted(DTYPES), help="autocast dtype on CUDA")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true", help="torch.compile the networks")
    parser.add_argument("--skip-e4e", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]

    if args.device in ("all", "cpu"):
        print(f"cpu: torch {torch.__version__}, {torch.get_num_threads()} threads, fp32")
        cpu = torch.device("cpu")
        bench_generator(
            cpu, torch.float32, batches, args.repeats, args.channels_last, args.compile, args.size
        )
        if not args.skip_e4e:
            bench_e4e(cpu, torch.float32, 1, args.repeats, args.channels_last, args.compile)

    if args.device in ("all", "cuda"):
        if not torch.cuda.is_available():
            print("cuda: not available")
            return
        cuda = torch.device("cuda")
        dtype = DTYPES[args.dtype]
        print(f"cuda: {torch.cuda.get_device_name(cuda)}, {args.dtype}, channels_last={args.channels_last}, "
              f"compile={args.compile}")
        bench_generator(cuda, dtype, batches, max(args.repeats, 10), args.channels_last, args.compile,
                        args.size)
        if not args.skip_e4e:
            bench_e4e(cuda, dtype, 8, max(args.repeats, 10), args.channels_last, args.compile)


if __name__ == "__main__":
    main()
