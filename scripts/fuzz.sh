#!/usr/bin/env bash
# `make fuzz`: the parser properties of tests/loader_props.rs (safetensors, config + weights, ONNX, npy,
# image decoding + preprocessing) with fresh random inputs, round after round, for FUZZ_SECONDS
# (default 300). Each round draws SE_LENS_FUZZ_CASES (default 2000) inputs per property from a new
# seed; proptest shrinks any failure to a minimal input and prints it.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
seconds="${FUZZ_SECONDS:-300}"
export SE_LENS_FUZZ_CASES="${SE_LENS_FUZZ_CASES:-2000}"
cargo build --release --quiet --test loader_props
deadline=$((SECONDS + seconds))
rounds=0
while [ "$SECONDS" -lt "$deadline" ]; do
    cargo test --release --quiet --test loader_props
    rounds=$((rounds + 1))
done
echo "fuzz: $rounds rounds of $SE_LENS_FUZZ_CASES cases per property in ${SECONDS}s, no failure"
