#!/usr/bin/env bash
# `make bench-compare REV=<git revision>`: is this checkout faster or slower than REV on the CPU?
# Builds `se-lens` at REV (in a temporary worktree, sharing target/ so only the crate rebuilds)
# and at the checkout, then runs both on the same models interleaved, ROUNDS times, and prints
# each one's best median and their ratio. A refactor may not cost speed: this is the check
# (BENCHMARKS.md compares against PyTorch, which moves with the machine; this compares like
# with like, in one run).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
REV="${REV:?usage: make bench-compare REV=<git revision>}"
RUNS="${RUNS:-15}"
ROUNDS="${ROUNDS:-4}"
MODELS=(${MODELS:-seresnet50 resnet50 mobilenetv3_large_100 efficientnet_b0})

fixtures="$(scripts/fixtures.sh | tail -n 1)"
bins="$(mktemp -d)"
tree="$(mktemp -d)/base"
git worktree add --quiet --detach "$tree" "$REV"
trap 'git worktree remove --force "$tree"; rm -rf "$bins"' EXIT
(cd "$tree" && CARGO_TARGET_DIR="$ROOT/target" cargo build --release --quiet --bin se-lens)
cp target/release/se-lens "$bins/base"
cargo build --release --quiet --bin se-lens
cp target/release/se-lens "$bins/head"

echo "$REV (base) against the checkout (head): $ROUNDS interleaved rounds of $RUNS runs…" >&2
results="$bins/results"
for round in $(seq "$ROUNDS"); do
    for model in "${MODELS[@]}"; do
        for who in base head; do
            row="$("$bins/$who" bench --model "$fixtures/$model" --size 224 --runs "$RUNS")"
            echo "$who $row" | tee -a "$results" >&2
        done
    done
done
python3 - "$results" "$REV" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    who, row = line.split(" ", 1)
    row = json.loads(row)
    key = (who, row["model"].rsplit("/", 1)[-1])
    best[key] = min(best.get(key, float("inf")), row["median_ms"])
print(f"| model | {sys.argv[2]} ms | checkout ms | checkout / {sys.argv[2]} |")
print("|---|---|---|---|")
for model in dict.fromkeys(m for _, m in best):
    base, head = best[("base", model)], best[("head", model)]
    print(f"| {model} | {base:.1f} | {head:.1f} | {head / base:.3f}× |")
PY
