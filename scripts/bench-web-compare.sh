#!/usr/bin/env bash
# `make bench-web-compare REV=<git revision>`: did a change cost wasm speed? The browser twin of
# `make bench-compare`. SE Lens's single-thread wasm build at REV (A, e.g. a commit before a
# refactor) against the checkout (B), each timed against ONNX Runtime Web in the same
# scripts/bench-web.mjs run, the runs alternated (A, B, A, B, …) because this machine's speed
# drifts by ±30% and more between runs. PAIRS=2 RUNS=10 ROUNDS=2 by default.
#
# Prints, per run, SE Lens's and ONNX Runtime Web's best-round median on one thread and their
# ratio; then each side's best. Revision A must have src/bin/bench-web.rs with the same exports.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
rev="${REV:?usage: make bench-web-compare REV=<git revision>}"
export GPU_RUNS=0 ROUNDS="${ROUNDS:-2}" RUNS="${RUNS:-10}"
pairs="${PAIRS:-2}"

# B: the working tree's bench site (scripts/bench-web.sh builds it; its own run is discarded).
echo "building the bench site (log: target/bench-web-compare-build.log)…" >&2
scripts/bench-web.sh > target/bench-web-compare-build.log 2>&1
# A: the revision's single-thread bench-web wasm, built in a worktree with this target dir (the
# dependencies are shared), packaged into a copy of the site.
tree="$(mktemp -d)/base"
git worktree add --quiet --detach "$tree" "$rev"
trap 'git worktree remove --force "$tree"' EXIT
CARGO_TARGET_DIR="$ROOT/target" wasm_cargo build --release --quiet --target "$WASM_TARGET" \
    --features web --bin bench-web --manifest-path "$tree/Cargo.toml"
rm -rf target/bench-site-a
cp -a target/bench-site target/bench-site-a
rm -rf target/bench-site-a/pkg
wasm_package "target/$WASM_TARGET/release/bench-web.wasm" target/bench-site-a/pkg bench-web
# Leave B's wasm in the target dir as scripts/bench-web.sh built it.
wasm_cargo build --release --quiet --target "$WASM_TARGET" --features web --bin bench-web

for i in $(seq "$pairs"); do
    for side in a b; do
        site=target/bench-site; [ "$side" = a ] && site=target/bench-site-a
        node scripts/bench-web.mjs "$site" dist "target/bench-web-compare-$side$i.json" > "target/bench-web-compare-$side$i.log" 2>&1
    done
done
node - "$rev" "$pairs" <<'JS'
const { readFileSync } = require('fs');
const [rev, pairs] = [process.argv[2], Number(process.argv[3])];
const best = { a: Infinity, b: Infinity };
for (let i = 1; i <= pairs; i++) {
  for (const side of ['a', 'b']) {
    const { results } = JSON.parse(readFileSync(`target/bench-web-compare-${side}${i}.json`, 'utf8'));
    const median = (engine) => results.find((r) => r.engine === engine && r.threads === 1).medianMs;
    const [ours, ort] = [median('selens-cpu'), median('ort-wasm')];
    best[side] = Math.min(best[side], ours);
    const name = side === 'a' ? `A ${rev}` : 'B working tree';
    console.log(`run ${i} ${name.padEnd(18)} SE Lens ${ours.toFixed(1).padStart(6)} ms  ORT-Web ${ort.toFixed(1).padStart(6)} ms  ratio ${(ours / ort).toFixed(3)}`);
  }
}
console.log(`best SE Lens median, 1 thread: A ${best.a.toFixed(1)} ms, B ${best.b.toFixed(1)} ms (B/A ${(best.b / best.a).toFixed(3)})`);
JS
