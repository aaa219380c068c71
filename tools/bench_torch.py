"""PyTorch CPU reference timing for `make bench` (scripts/bench.sh runs it beside `se-lens bench`).

    .venv/bin/python tools/bench_torch.py --model seresnet50 --size 224 --runs 20 --threads 2

Prints one JSON line: the median and minimum forward time of timm's model in eval mode, batch 1,
float32, under torch.inference_mode(), with the given number of intra-op threads; and, as the
machine's practical ceiling, the GFLOP/s of PyTorch's own GEMM on a 1024³ float32 product.
"""
import argparse
import json
import time

import timm
import torch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = timm.create_model(args.model, pretrained=False).eval()
    x = torch.randn(1, 3, args.size, args.size)
    times = []
    with torch.inference_mode():
        for _ in range(2):
            model(x)
        for _ in range(args.runs):
            start = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - start) * 1e3)
    times.sort()
    print(json.dumps({
        "model": args.model, "size": args.size, "runs": args.runs, "threads": args.threads,
        "median_ms": times[len(times) // 2], "min_ms": times[0], "torch": torch.__version__,
        "gemm_gflops_per_s": gemm_gflops_per_s(1024, args.runs),
    }))


def gemm_gflops_per_s(n: int, runs: int) -> float:
    """Median GFLOP/s of an n×n×n float32 matrix product (2·n³ FLOP)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - start)
    times.sort()
    return 2 * n**3 / times[len(times) // 2] / 1e9


if __name__ == "__main__":
    main()
