"""What limits batch-1 decoding on this machine: one matrix-vector product, the
124M model's shapes, in each precision the course runs, next to a plain
reduction over as many bytes (how fast memory can be read at all).

A decoding step is mostly such products, one per Linear, each weight read once.
A kernel that reads its weight more slowly than the reduction reads memory
leaves speed on the table; a precision whose product is not faster than
float32's saves bytes but no time. Timings are the best of --repeats calls.

    .venv/bin/python benchmarks/matvec_speed.py [--threads 2] [--repeats 30]
"""

import argparse
import os
import time

import torch
import torch.nn.functional as F

SHAPES = [(3072, 768), (768, 3072), (50257, 768)]  # feed forward in, out; the output head


def best_seconds(fn, repeats):
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0))
                        if hasattr(os, "sched_getaffinity") else os.cpu_count())
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} threads, best of {args.repeats}")
    with torch.inference_mode():
        for out_features, in_features in SHAPES:
            w = torch.randn(out_features, in_features)
            x = torch.randn(1, in_features)
            w16, x16 = w.to(torch.bfloat16), x.to(torch.bfloat16)
            scales = w.abs().amax(dim=1) / 127
            q = torch.round(w / scales[:, None]).clamp(-127, 127).to(torch.int8)
            n = w.numel()
            ones = torch.ones(n)
            kernels = [
                ("float32 F.linear", lambda: F.linear(x, w), 4),
                ("bfloat16 F.linear", lambda: F.linear(x16, w16), 2),
                ("int8 aten._weight_int8pack_mm",
                 lambda: torch.ops.aten._weight_int8pack_mm(x16, q, scales.to(torch.bfloat16)), 1),
                ("float32 sum (a reduction)", lambda: ones.sum(), 4),
            ]
            print(f"weight [{out_features}, {in_features}]: {n / 1e6:.2f} M numbers")
            for name, fn, size in kernels:
                seconds = best_seconds(fn, args.repeats)
                print(f"  {name:32s} {seconds * 1e3:7.3f} ms  {n / seconds / 1e9:6.2f} G numbers/s"
                      f"  {n * size / seconds / 1e9:6.1f} GB/s")


if __name__ == "__main__":
    main()
