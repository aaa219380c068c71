#!/usr/bin/env bash
# `make bench`: SE Lens vs PyTorch (same threads, same run) on SE-ResNet-50, ResNet-50 (the SE
# overhead, also from the two timed alternately), MobileNetV3-Large, EfficientNet-B0, RegNetY-4.0GF
# and EfficientNetV2-T, at 224×224 batch 1, and the GPU backend;
# then the browser part (scripts/bench-web.sh: SE Lens vs ONNX Runtime Web); writes the tables to
# BENCHMARKS.md. Numbers are noisy on shared machines:
# compare the ratios within one run.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
RUNS="${RUNS:-20}"
THREADS="$(nproc)"

fixtures="$(scripts/fixtures.sh | tail -n 1)"
cargo build --release --quiet --bin se-lens

ours() { target/release/se-lens bench --model "$fixtures/$1" --size 224 --runs "$RUNS" "${@:2}"; }
# SE-ResNet-50's ONNX export (the same weights): the importer's graph against the timm builder's.
onnx=target/bench/seresnet50.onnx
mkdir -p target/bench
if [ ! -f "$onnx" ] || [ "$fixtures/seresnet50/model.safetensors" -nt "$onnx" ]; then
    .venv/bin/python -W ignore tools/export_onnx.py "$fixtures/seresnet50" "$onnx" >&2
fi
theirs() { .venv/bin/python tools/bench_torch.py --model "$1" --size 224 --runs "$RUNS" --threads "$THREADS" "${@:2}"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

ROUNDS="${ROUNDS:-3}"
CPU_MODELS=(seresnet50 resnet50 mobilenetv3_large_100 efficientnet_b0 regnety_040 efficientnetv2_rw_t)
GPU_MODELS=(seresnet50 mobilenetv3_large_100 efficientnet_b0)
echo "benchmarking with $THREADS threads: $ROUNDS interleaved rounds of $RUNS runs each…" >&2
# Interleaving the configurations spreads the machine's noise over all of them; each keeps its
# best round (the least disturbed median).
results="$(mktemp)"
for round in $(seq "$ROUNDS"); do
    for model in "${CPU_MODELS[@]}"; do
        echo "ours $(ours "$model")" | tee -a "$results" >&2
        echo "torch $(theirs "$model")" | tee -a "$results" >&2
    done
    echo "onnx $(target/release/se-lens bench --model "$onnx" --size 224 --runs "$RUNS")" | tee -a "$results" >&2
done
# The SE overhead: SE-ResNet-50 and ResNet-50 timed alternately, run for run, in one process (in
# the rounds above the two run up to a minute apart, and the machine's noise moves meanwhile), by
# SE Lens and by PyTorch, once per round.
PAIRED_RUNS="${PAIRED_RUNS:-60}"
echo "SE overhead: $ROUNDS rounds of $PAIRED_RUNS alternating pairs…" >&2
for round in $(seq "$ROUNDS"); do
    echo "pairs_ours $(RUNS=$PAIRED_RUNS ours seresnet50 --versus "$fixtures/resnet50")" | tee -a "$results" >&2
    echo "pairs_torch $(RUNS=$PAIRED_RUNS theirs seresnet50 --versus resnet50)" | tee -a "$results" >&2
done
# The GPU backend once per model (software adapters are slow: few runs). `--backend gpu` takes any
# adapter; on a machine without one the row records why.
GPU_RUNS="${GPU_RUNS:-3}"
echo "GPU backend: $GPU_RUNS runs per model…" >&2
for model in "${GPU_MODELS[@]}"; do
    if ! gpu="$(target/release/se-lens bench --model "$fixtures/$model" --size 224 --runs "$GPU_RUNS" --backend gpu 2>&1)"; then
        gpu="$(python3 -c 'import json,sys; print(json.dumps({"model": sys.argv[1], "error": sys.argv[2]}))' "$model" "$gpu")"
    fi
    echo "gpu $gpu" | tee -a "$results" >&2
done
# The browser: SE Lens vs ONNX Runtime Web in headless Chromium, and the app's size and start-up.
scripts/bench-web.sh >&2

python3 - "$results" "$THREADS" target/bench-web.json <<'PY' > BENCHMARKS.md
import json, os, platform, sys
import statistics
runs = {}
# Every round's median per configuration, so a reader can tell noise from a real difference.
rounds = {}
for line in open(sys.argv[1]):
    who, row = line.split(" ", 1)
    row = json.loads(row)
    name = row["model"].rsplit("/", 1)[-1].removesuffix(".onnx")
    if "median_ms" in row:
        rounds.setdefault((who, name), []).append(row["median_ms"])
    best = runs.get((who, name))
    if best is None or row.get("median_ms", 0) < best.get("median_ms", 0):
        runs[(who, name)] = row
threads = sys.argv[2]
NAMES = {"seresnet50": "SE-ResNet-50", "resnet50": "ResNet-50",
         "mobilenetv3_large_100": "MobileNetV3-Large", "efficientnet_b0": "EfficientNet-B0",
         "regnety_040": "RegNetY-4.0GF", "efficientnetv2_rw_t": "EfficientNetV2-T"}
se, plain = runs[("ours", "seresnet50")], runs[("ours", "resnet50")]
se_t, plain_t = runs[("torch", "seresnet50")], runs[("torch", "resnet50")]
# Each round's pairs (SE-ResNet-50 against ResNet-50, alternating), by engine.
pairs = {who: [json.loads(l.split(" ", 1)[1]) for l in open(sys.argv[1]) if l.startswith(who + " ")]
         for who in ("pairs_ours", "pairs_torch")}
def overhead(who):
    """The median over rounds of each round's median pair ratio, and every round's `median (p10–p90)`."""
    rows = pairs[who]
    each = ", ".join(f"{r['ratio_median']:.3f}× ({r['ratio_p10']:.3f}–{r['ratio_p90']:.3f})" for r in rows)
    return statistics.median(r["ratio_median"] for r in rows), each
se_overhead, se_overhead_rounds = overhead("pairs_ours")
torch_overhead, torch_overhead_rounds = overhead("pairs_torch")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
cpuinfo = open("/proc/cpuinfo").read()
vendor = "an Intel" if "GenuineIntel" in cpuinfo else "an AMD" if "AuthenticAMD" in cpuinfo else "another"
simd = "AVX-512" if "avx512f" in cpuinfo else "AVX2+FMA" if "avx2" in cpuinfo else "SSE"
# FP32 FMA lanes per cycle per core: two FMA pipes, each 8 lanes wide (AVX2; AMD's Zen 4 also runs
# AVX-512 on these 256-bit pipes) or 16 lanes wide (Intel server cores with AVX-512).
lanes = 16 if simd == "AVX-512" and "GenuineIntel" in cpuinfo else 8
mhz = float(next(l.split(":")[1] for l in cpuinfo.splitlines() if l.startswith("cpu MHz")))
peak = int(threads) * 2 * lanes * 2 * mhz / 1e3
ceiling = max(r["gemm_gflops_per_s"] for (who, _), r in runs.items() if who == "torch")
def spread(who, name):
    """The rounds' medians as `min / median / max` ms."""
    medians = rounds[(who, name)]
    return f"{min(medians):.1f} / {statistics.median(medians):.1f} / {max(medians):.1f}"
def row(name):
    ours, torch = runs[("ours", name)], runs[("torch", name)]
    return (f"| {NAMES[name]} | {ours['gflop']:.2f} | {ours['median_ms']:.1f} | {torch['median_ms']:.1f} | "
            f"{ours['median_ms'] / torch['median_ms']:.2f}× | {ours['gflops_per_s']:.0f} | "
            f"{spread('ours', name)} | {spread('torch', name)} |")
cpu_rows = "\n".join(row(n) for n in NAMES if ("ours", n) in runs)
gpu_runs = next((r["runs"] for (who, _), r in runs.items() if who == "gpu" and "runs" in r), 0)
print(f"""# Benchmarks

Generated by `make bench` (scripts/bench.sh); do not edit by hand. CPU forward pass, batch 1,
224×224, float32. Each configuration runs {se['runs']} timed runs (after 2 warm-up runs) in
each of {len(rounds[("ours", "seresnet50")])} interleaved rounds; the table shows its best round's median, and the
rounds' medians as min / median / max (ms): their spread is the machine's noise. Random weights
(speed does not depend on them). SE Lens: `se-lens bench`; PyTorch {se_t['torch']}: timm model in
`torch.inference_mode()` with `torch.set_num_threads({threads})` (tools/bench_torch.py), in the same
run on the same machine.

Machine: {cpu}, {threads} threads, {simd}.

| model | GFLOP | SE Lens ms | PyTorch ms | SE Lens / PyTorch | SE Lens GFLOP/s | SE Lens rounds | PyTorch rounds |
|---|---|---|---|---|---|---|---|
{cpu_rows}

GFLOP: 2 × multiply-accumulates of convolutions, SE FCs and head. SE overhead (SE-ResNet-50 /
ResNet-50 time), both models timed alternately run for run in one process (`se-lens bench
--versus`, `tools/bench_torch.py --versus`), {pairs["pairs_ours"][0]["runs"]} pairs in each of {len(pairs["pairs_ours"])} rounds: SE Lens
**{se_overhead:.3f}×**, PyTorch **{torch_overhead:.3f}×** (the median of the rounds' medians of
the pairs' ratios; each round's median and its pairs' 10th–90th percentile: SE Lens
{se_overhead_rounds}; PyTorch {torch_overhead_rounds}). From the table's best rounds, which run up to a
minute apart: {se['median_ms'] / plain['median_ms']:.3f}× (PyTorch: {se_t['median_ms'] / plain_t['median_ms']:.3f}×). SE-ResNet-50 loaded from its ONNX export
(tools/export_onnx.py, opset 17, the same weights; SE blocks found by the importer) takes
{runs[("onnx", "seresnet50")]['median_ms']:.1f} ms: **{runs[("onnx", "seresnet50")]['median_ms'] / se['median_ms']:.3f}×** the timm folder's time. MobileNetV3 and EfficientNet spend much of their
time in depthwise convolutions and element-wise work (activations, SE scale), which do few FLOPs per
byte moved: their GFLOP/s is far below the dense ResNets' by nature.

For scale: the theoretical FP32 peak is {threads} cores × 2 FMA pipes × {lanes} lanes × 2 FLOP
per cycle at the nominal {mhz:.0f} MHz ≈ {peak:.0f} GFLOP/s (the cores boost above the nominal clock, so
this is no hard bound); PyTorch's own GEMM on a 1024³ product reaches **{ceiling:.0f} GFLOP/s** on this
(shared, virtualised) machine in the same run, the practical ceiling. SE Lens's SE-ResNet-50 forward reaches {se['gflops_per_s'] / ceiling:.0%} of that ceiling.

## GPU backend

`se-lens bench --backend gpu`, same models and input, {gpu_runs} timed runs after 2 warm-up runs; a
run is everything from uploading the input to reading back logits and gates (one submission).

| model | backend | adapter | ms | GFLOP/s | GPU / CPU time |
|---|---|---|---|---|---|""")
software = False
for name in NAMES:
    gpu = runs.get(("gpu", name))
    if gpu is None:
        continue
    if "error" in gpu:
        print(f"| {NAMES[name]} | not measured | {gpu['error'].strip()} | | | |")
        continue
    software |= any(s in gpu["adapter"].lower() for s in ("llvmpipe", "lavapipe", "swiftshader"))
    cpu_ms = runs[("ours", name)]["median_ms"]
    print(f"| {NAMES[name]} | {gpu['backend']} | {gpu['adapter']} | {gpu['median_ms']:.0f} | "
          f"{gpu['gflops_per_s']:.1f} | {gpu['median_ms'] / cpu_ms:.1f}× |")
print()
if software:
    print("""The adapter is a software one: Mesa's lavapipe runs the WGSL kernels on these same CPU cores,
so these rows check that the GPU path works end to end and say nothing about GPU hardware. That is
why `auto` (the app's default) never picks a software adapter. No GPU hardware was available to
this run.
""")
if os.path.exists("BENCHMARKS-GPU.md"):
    print("On GPU hardware: [BENCHMARKS-GPU.md](BENCHMARKS-GPU.md), from `scripts/gpu-figure.sh`.\n")
else:
    print("""No hardware-GPU figure exists yet: `scripts/gpu-figure.sh` is the prepared script for a machine
with one (it writes BENCHMARKS-GPU.md: SE Lens's Vulkan path against PyTorch on the same GPU, with
the GPU's float32 peak).
""")

web = json.load(open(sys.argv[3]))
rows = {(r["engine"], r["threads"]): r for r in web["results"]}
ours = rows[("selens-cpu", 1)]
relaxed = rows.get(("selens-cpu-relaxed", 1), ours)
ort1 = rows.get(("ort-wasm", 1))
def web_row(r):
    name = {"selens-cpu": f"SE Lens, wasm CPU (SIMD128, {r['threads']} thread{'s' if r['threads'] > 1 else ''})",
            "selens-cpu-relaxed": f"SE Lens, wasm CPU (relaxed SIMD, {r['threads']} thread{'s' if r['threads'] > 1 else ''})",
            "ort-wasm": f"ONNX Runtime Web, wasm EP, {r['threads']} thread{'s' if r['threads'] > 1 else ''}",
            "selens-webgpu": "SE Lens, WebGPU", "ort-webgpu": "ONNX Runtime Web, WebGPU EP"}[r["engine"]]
    if "error" in r:
        return f"| {name} | not measured: {r['error']} | | | |"
    ratio = f"{r['medianMs'] / ort1['medianMs']:.2f}×" if ort1 else ""
    return (f"| {name} | {r['backend']} | {r['medianMs']:.0f} | {ratio} | "
            f"{r['maxRelDiffToSeLensCpu']:.1e} |")
def app_row(build, host):
    wasm = next(b for b in build["bundle"] if b["file"].endswith(".wasm"))
    total = sum(b["bytes"] for b in build["bundle"])
    total_gz = sum(b["gzipBytes"] for b in build["bundle"])
    first = (f"{build['firstResultMs']:.0f} ms / {build['returningMs']:.0f} ms" if "firstResultMs" in build
             else "(not timed)")
    memory = f"{build['wasmMemoryBytes'] / 2**20:.1f} MiB" if "wasmMemoryBytes" in build else ""
    return (f"| {build['name']} | {host} | {wasm['bytes'] / 1024:.0f} KiB ({wasm['gzipBytes'] / 1024:.0f} KiB) | "
            f"{total / 1024:.0f} KiB ({total_gz / 1024:.0f} KiB) | {first} | {memory} |")
single, threaded, *simd128_builds = web["app"]
# MobileNetV3-Large and EfficientNet-B0 on the wasm CPU paths (scripts/bench-web.mjs, `others`).
by_model = {}
for r in web.get("others", []):
    by_model.setdefault(r["model"], {})[(r["engine"], r["threads"])] = r
def pair(rows_, threads):
    s, o = rows_.get(("selens-cpu", threads)), rows_.get(("ort-wasm", threads))
    r = rows_.get(("selens-cpu-relaxed", threads), s)
    if not (s and o):
        return "| | "
    return (f"{s['medianMs']:.1f} / {r['medianMs']:.1f} | {o['medianMs']:.1f} | "
            f"{s['medianMs'] / o['medianMs']:.2f}× / **{r['medianMs'] / o['medianMs']:.2f}×**")
others_table = "\n".join(
    f"| {NAMES.get(model, model)} | {pair(rows_, 1)} | {pair(rows_, web['cores'])} | "
    f"{max(r['maxRelDiffToSeLensCpu'] for r in rows_.values()):.1e} |"
    for model, rows_ in by_model.items())
others_section = f"""The mobile SE networks, on the wasm CPU paths only (same page, same rounds, random weights from
the same fixtures, each engine's logits against SE Lens's on one thread):

| model | SE Lens, 1 thread (ms): SIMD128 / relaxed | ONNX Runtime Web, 1 thread (ms) | ratios | SE Lens, {web['cores']} threads (ms): SIMD128 / relaxed | ONNX Runtime Web, {web['cores']} threads (ms) | ratios | Δ logits |
|---|---|---|---|---|---|---|---|
{others_table}
""" if by_model else ""
threads_row = rows.get(("selens-cpu", web["cores"]))
threads_relaxed = rows.get(("selens-cpu-relaxed", web["cores"]), threads_row)
ort_n = rows.get(("ort-wasm", web["cores"]))
threads_line = (f"With threads ({web['cores']} cores), SE Lens takes {threads_row['medianMs']:.0f} ms (SIMD128) and "
                f"{threads_relaxed['medianMs']:.0f} ms (relaxed SIMD), "
                f"{ours['medianMs'] / threads_row['medianMs']:.2f}× faster than on one thread, and "
                f"**{threads_row['medianMs'] / ort_n['medianMs']:.2f}×** / **{threads_relaxed['medianMs'] / ort_n['medianMs']:.2f}×** "
                "ONNX Runtime Web's time on as many threads (goal: 0.75×). "
                "On few cores, threaded times vary from run to run: the browser's own threads share the cores."
                if threads_row and ort_n else "")
print(f"""## In the browser

`scripts/bench-web.sh` (part of `make bench`): headless Chromium {web['chromium']}, ONNX Runtime Web
{web['onnxruntimeWeb']} (npm, pinned), on this machine ({web['cores']} cores). SE-ResNet-50 with the same weights in
both engines ({web['model']}), 224×224, batch 1, one fixed input; each configuration in its own page
load (ONNX Runtime fixes its thread count when it starts), the page cross-origin isolated so ONNX
Runtime may use threads. CPU rows: the best of the rounds' medians ({ours['runs']} timed runs after 2
warm-up runs); WebGPU rows: one round of few runs after one warm-up run. Every engine's logits are compared with SE
Lens's CPU logits (largest difference over the largest logit; `make bench` fails beyond 1e-3).

| engine | backend | ms | vs ONNX Runtime wasm, 1 thread | Δ logits |
|---|---|---|---|---|
""" + "\n".join(web_row(r) for r in web["results"]) + f"""

Our goal is at most 0.65× ONNX Runtime Web's single-thread time on the wasm CPU path; this run:
**{ours['medianMs'] / ort1['medianMs']:.2f}×** with SIMD128 and **{relaxed['medianMs'] / ort1['medianMs']:.2f}×**
with relaxed SIMD (its GEMM's multiply-add is `f32x4.relaxed_madd`, one FMA instruction where the
CPU has FMA; src/cpu/packed_gemm.rs); this machine's CPU is {vendor} one. On AMD Zen
cores multiplies and adds run on separate pipes, so a multiply and an add already go as fast as an
FMA and relaxed SIMD gains little; on Intel cores (where multiply, add and FMA share two ports)
and on Apple's and other ARM cores, one FMA instead of two instructions can double the GEMM's
arithmetic rate. WebGPU in headless Chromium here is SwiftShader, a software
rasteriser on the same cores: those rows say the GPU paths work and agree, not how fast a GPU is.

{threads_line}

{others_section}
The app as users get it (`dist/`, weights excluded) comes in four builds, and a page loads one: with
wasm threads where the page is cross-origin isolated, and with relaxed SIMD where the browser has
it (Chromium here; the SIMD128 builds elsewhere). First result: from navigation to the
first result with the default model (the SE-ResNet-10 on a sample, CPU): the median of 3 cold
loads (a fresh browser profile) / the median of 9 returning visits (the page opened again in those
profiles: its files, the model and the compiled wasm cached); the engine worker's wasm memory then.

| build | loaded where | wasm (gzip) | everything: wasm, JS, CSS, HTML (gzip) | first result: cold / returning | engine's wasm memory |
|---|---|---|---|---|---|
{app_row(single, "a static host")}
{app_row(threaded, "a cross-origin isolated page (`make run`)")}
{chr(10).join(app_row(b, "the same, without relaxed SIMD") for b in simd128_builds)}

SE-ResNet-50 on the bench page peaks at
{ours['wasmMemoryBytes'] / 2**20:.0f} MiB of wasm memory (its f32 weights alone are 112 MB).
""")
PY
rm -f "$results"
cat BENCHMARKS.md
