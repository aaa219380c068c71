#!/usr/bin/env bash
# The hardware-GPU figure (issue 22): SE Lens's native GPU path (wgpu on Vulkan) on a real GPU,
# beside PyTorch on the same GPU (float32, TF32 off), the GPU's float32 peak and PyTorch's measured
# GEMM ceiling, with the GPU's logits and gates checked against SE Lens's CPU path. Two steps:
#
#   scripts/gpu-figure.sh prepare    here: the release CLI (stripped) and the Vulkan loader's Debian
#                                    packages into target/gpu-figure/ (about 10 MB)
#   scripts/gpu-figure.sh run OUT    on the machine with the GPU: needs python3 with torch (CUDA)
#                                    and timm, no network (the models are timm's, randomised as
#                                    the fixtures are, and saved there); writes OUT/gpu-hardware.md
#                                    (commit it as BENCHMARKS-GPU.md: make bench's BENCHMARKS.md
#                                    points to it) and OUT/gpu-figure.jsonl (every raw row).
#
# With this workplace's device tool, after `prepare`: one `run` call of about 5 minutes,
#   command: scripts/gpu-figure.sh run $OUT      carry: ["target/gpu-figure"]
# `run` also works on a machine without a GPU (lavapipe, PyTorch on the CPU), which is how it is
# tested; its rows then say so.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=target/gpu-figure
MODELS=(seresnet50 resnet50 mobilenetv3_large_100 efficientnet_b0)
ROUNDS="${ROUNDS:-3}"
RUNS="${RUNS:-20}"

prepare() {
    source scripts/env.sh
    cargo build --release --quiet --bin se-lens
    rm -rf "$DIR" && mkdir -p "$DIR/debs"
    strip -o "$DIR/se-lens" target/release/se-lens
    # The loader (libvulkan.so.1), as the device tool's README has it; the driver is the machine's.
    local lists=/tmp/gpu-figure-apt o
    mkdir -p "$lists/partial"
    o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
    apt-get "${o[@]}" update -qq
    (cd "$DIR/debs" && apt-get "${o[@]}" download -qq libvulkan1)
    du -sh "$DIR"
}

run() {
    local out="$1" rows models cli="$DIR/se-lens"
    mkdir -p "$out"
    rows="$out/gpu-figure.jsonl"
    : > "$rows"
    # Vulkan's loader where the machine has none (as root), and NVIDIA's driver where a container
    # mounts it under /usr/local/nvidia.
    if ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
        for deb in "$DIR"/debs/*.deb; do dpkg -x "$deb" /; done
        ldconfig
    fi
    local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then export VK_DRIVER_FILES="$icd"; fi
    local python="${PYTHON:-python3}"
    models="$(mktemp -d)"
    "$python" - "$models" "${MODELS[@]}" <<'PY'
import sys
import timm
import torch
from timm.models import save_for_hf

sys.path.insert(0, "tools")
from make_fixtures import randomise  # the fixtures' weights: BatchNorm drawn, activations O(1)

for name in sys.argv[2:]:
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False).eval()
    randomise(model, 0, torch.randn(1, 3, 224, 224))
    save_for_hf(model, f"{sys.argv[1]}/{name}", safe_serialization=True)
PY
    local device=cpu
    if "$python" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then device=cuda; fi
    # Interleaved rounds (each configuration keeps its best median), then the CPU path once per
    # model on all cores (the GPU / CPU column), then the cross-check.
    for round in $(seq "$ROUNDS"); do
        for model in "${MODELS[@]}"; do
            local gpu
            if ! gpu="$("$cli" bench --model "$models/$model" --runs "$RUNS" --backend gpu 2>"$models/error")"; then
                gpu="$("$python" -c 'import json,sys; print(json.dumps({"model": sys.argv[1], "error": open(sys.argv[2]).read()}))' "$model" "$models/error")"
            fi
            echo "gpu $gpu" | tee -a "$rows"
            echo "torch $("$python" tools/bench_torch.py --model "$model" --runs "$RUNS" --threads "$(nproc)" --device "$device")" | tee -a "$rows"
        done
    done
    for model in "${MODELS[@]}"; do
        echo "cpu $("$cli" bench --model "$models/$model" --runs 10)" | tee -a "$rows"
        for backend in gpu cpu; do
            "$cli" classify --model "$models/$model" --backend "$backend" --json tests/fixtures/preprocess/chelsea.png \
                > "$models/$model-$backend.json" 2>/dev/null || true
        done
    done
    "$python" - "$rows" "$models" "${MODELS[@]}" > "$out/gpu-hardware.md" <<'PY'
import json
import sys

rows_file, models, names = sys.argv[1], sys.argv[2], sys.argv[3:]
best, rounds = {}, {}
for line in open(rows_file):
    who, row = line.split(" ", 1)
    row = json.loads(row)
    key = (who, row["model"].rsplit("/", 1)[-1])
    if "median_ms" in row:
        rounds.setdefault(key, []).append(row["median_ms"])
    if key not in best or row.get("median_ms", 1e9) < best[key].get("median_ms", 1e9):
        best[key] = row


def check(name):
    """Largest |GPU - CPU| over logits and over gates, from `classify --json` on one photo."""
    try:
        gpu, cpu = (json.load(open(f"{models}/{name}-{b}.json")) for b in ("gpu", "cpu"))
    except (OSError, ValueError) as e:
        return f"not compared ({e})"
    logits = max(abs(a - b) for a, b in zip(gpu["logits"], cpu["logits"]))
    gates = max((abs(a - b) for g, c in zip(gpu["excitations"], cpu["excitations"])
                 for a, b in zip(g["values"], c["values"])), default=0.0)
    scale = max(abs(x) for x in cpu["logits"])
    return f"logits {logits:.1e} (of max {scale:.1f}), gates {gates:.1e}; backend {gpu['backend']}"


torch_rows = [best[("torch", n)] for n in names if ("torch", n) in best]
device = torch_rows[0].get("device", "the CPU (no CUDA)") if torch_rows else "unknown"
adapters = {best[("gpu", n)].get("adapter") for n in names if ("gpu", n) in best} - {None}
print(f"""# The hardware-GPU figure

`scripts/gpu-figure.sh run` on {device}; SE Lens's adapter: {", ".join(sorted(adapters)) or "none"}.
timm's models, random weights (drawn as `tools/make_fixtures.py` draws them), 224×224, batch 1, float32. SE Lens: `se-lens bench --backend gpu`
(one submission per run, from uploading the input to reading back logits and gates); PyTorch
{torch_rows[0]['torch'] if torch_rows else ''}: `tools/bench_torch.py`, eager, TF32 off. Each the best of {len(rounds.get(('gpu', names[0]), []))} interleaved rounds'
medians of {best.get(('gpu', names[0]), {}).get('runs', '?')} runs (all rounds' medians in brackets).
""")
print("| model | SE Lens GPU ms | GFLOP/s | PyTorch ms | SE Lens / PyTorch | SE Lens CPU ms | GPU vs CPU (logits, gates) |")
print("|---|---|---|---|---|---|---|")
for n in names:
    gpu, torch_row, cpu = best.get(("gpu", n), {}), best.get(("torch", n), {}), best.get(("cpu", n), {})
    spread = lambda key: ", ".join(f"{x:.1f}" for x in rounds.get(key, []))
    if "error" in gpu:
        print(f"| {n} | not measured: {gpu['error'].strip()[:200]} | | | | | |")
        continue
    ratio = gpu["median_ms"] / torch_row["median_ms"] if torch_row else float("nan")
    print(f"| {n} | {gpu['median_ms']:.2f} ({spread(('gpu', n))}) | {gpu['gflops_per_s']:.0f} | "
          f"{torch_row.get('median_ms', float('nan')):.2f} ({spread(('torch', n))}) | {ratio:.2f}× | "
          f"{cpu.get('median_ms', float('nan')):.1f} | {check(n)} |")
if torch_rows:
    t = torch_rows[0]
    peak = t.get("fp32_peak_gflops_per_s")
    print(f"""
The limits: PyTorch's float32 GEMM ({"8192³, TF32 off" if "device" in t else "1024³ on the CPU"}) runs at {t['gemm_gflops_per_s']:.0f} GFLOP/s""" +
          (f"; the float32 peak is {peak:.0f} GFLOP/s ({t['sms']} SMs × 128 lanes × 2 × {t['max_sm_clock_mhz']:.0f} MHz)." if peak else "."))
PY
    cat "$out/gpu-hardware.md"
}

case "${1:-}" in
    prepare) prepare ;;
    run) run "${2:?usage: scripts/gpu-figure.sh run OUT}" ;;
    *) echo "usage: scripts/gpu-figure.sh prepare | run OUT" >&2; exit 2 ;;
esac
