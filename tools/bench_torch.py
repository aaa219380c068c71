"""PyTorch reference timing for `make bench` (scripts/bench.sh runs it beside `se-lens bench`) and for
the hardware-GPU figure (scripts/gpu-figure.sh, `--device cuda`).

    .venv/bin/python tools/bench_torch.py --model seresnet50 --size 224 --runs 20 --threads 2

Prints one JSON line: the median and minimum forward time of timm's model in eval mode, batch 1,
float32, under torch.inference_mode(), with the given number of intra-op threads; and, as the
machine's practical ceiling, the GFLOP/s of PyTorch's own GEMM on a 1024³ float32 product. On CUDA
TF32 is off (every product in float32, as SE Lens's kernels compute), each timing ends with a
synchronize, the GEMM is 8192³, and the device's name and float32 peak (SMs × 128 lanes × 2 × the
SM clock's maximum, Ampere and later) come too. With `--versus OTHER`, OTHER is timed too,
alternately with the model, run for run (as `se-lens bench --versus` does), and the line adds
OTHER's median and the median, 10th and 90th percentile of the pairs' ratios (model / OTHER).
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
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--versus")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    model = timm.create_model(args.model, pretrained=False).eval().to(device)
    x = torch.randn(1, 3, args.size, args.size, device=device)
    versus = {}
    if args.versus:
        other = timm.create_model(args.versus, pretrained=False).eval().to(device)
        times, other_times = paired([lambda: model(x), lambda: other(x)], args.runs, device)
        ratios = sorted(a / b for a, b in zip(times, other_times))
        quantile = lambda q: ratios[round((len(ratios) - 1) * q)]
        versus = {"versus": args.versus, "versus_median_ms": sorted(other_times)[len(other_times) // 2] * 1e3,
                  "ratio_median": quantile(0.5), "ratio_p10": quantile(0.1), "ratio_p90": quantile(0.9)}
        times.sort()
    else:
        times = timed(lambda: model(x), args.runs, device)
    row = {
        "model": args.model, "size": args.size, "runs": args.runs, "threads": args.threads,
        "median_ms": times[len(times) // 2] * 1e3, "min_ms": times[0] * 1e3, "torch": torch.__version__,
        "gemm_gflops_per_s": gemm_gflops_per_s(1024 if args.device == "cpu" else 8192, args.runs, device),
    }
    row |= versus
    if args.device == "cuda":
        props = torch.cuda.get_device_properties(0)
        row["device"] = props.name
        row["sms"] = props.multi_processor_count
        mhz = max_sm_clock_mhz(props)
        if mhz:
            row["max_sm_clock_mhz"] = mhz
            row["fp32_peak_gflops_per_s"] = props.multi_processor_count * 128 * 2 * mhz / 1e3
    print(json.dumps(row))


def max_sm_clock_mhz(props) -> float:
    """The SM clock's maximum: torch's device properties where they have it, else NVML's; 0 if neither."""
    if getattr(props, "clock_rate", 0):
        return props.clock_rate / 1e3  # kHz
    try:
        import pynvml
        pynvml.nvmlInit()
        return pynvml.nvmlDeviceGetMaxClockInfo(pynvml.nvmlDeviceGetHandleByIndex(0), pynvml.NVML_CLOCK_SM)
    except Exception:  # noqa: BLE001 (no NVML: the peak is left out)
        return 0


def timed(run, runs: int, device: torch.device) -> list:
    """Sorted seconds of `runs` calls of `run` after two warm-up calls, each synchronised on CUDA."""
    return sorted(paired([run], runs, device)[0])


def paired(calls: list, runs: int, device: torch.device) -> list:
    """Seconds of `runs` calls of each of `calls`, taken in turn (unsorted: entry i of every list
    is one round), after two warm-up rounds; each call synchronised on CUDA."""
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    times = [[] for _ in calls]
    with torch.inference_mode():
        for i in range(2 + runs):
            for run, out in zip(calls, times):
                start = time.perf_counter()
                run()
                sync()
                if i >= 2:
                    out.append(time.perf_counter() - start)
    return times


def gemm_gflops_per_s(n: int, runs: int, device: torch.device) -> float:
    """Median GFLOP/s of an n×n×n float32 matrix product (2·n³ FLOP)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    times = timed(lambda: torch.mm(a, b), runs, device)
    return 2 * n**3 / times[len(times) // 2] / 1e9


if __name__ == "__main__":
    main()
