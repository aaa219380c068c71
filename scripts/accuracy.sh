#!/usr/bin/env bash
# `make accuracy`: the default model's Fashion-MNIST test accuracy, measured by SE Lens's engine
# (`se-lens evaluate`) and by PyTorch/timm (tools/eval_torch.py) on the same PNG files.
#
#   scripts/accuracy.sh              # all 10 000 test images; also requires ≥ 93 %
#   LIMIT=50 scripts/accuracy.sh     # the first 50 of each class (what `make test` runs)
#
# Fails unless the two accuracies agree within 0.1 points. Results: target/accuracy/{ours,torch}.json.
# A full run also writes the model's class_stats.json (the per-class mean gates the app's class
# statistics view shows at once), straight from `se-lens evaluate`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
scripts/venv.sh

MODEL="${MODEL:-assets/models/seresnet10-fmnist}"
LIMIT="${LIMIT:-0}"
images=target/fmnist-test
out=target/accuracy
if [ ! -f "$images/.complete" ]; then
    rm -rf "$images"
    (cd tools && ../.venv/bin/python export_fmnist.py --split test --out "../$images")
    touch "$images/.complete"
fi
mkdir -p "$out"
cli="$(se_lens_cli)"
limit=()
[ "$LIMIT" != 0 ] && limit=(--limit "$LIMIT")
"$cli" evaluate --model "$MODEL" --images "$images" "${limit[@]}" > "$out/ours.json"
.venv/bin/python tools/eval_torch.py --model "$MODEL" --images "$images" "${limit[@]}" > "$out/torch.json"

python3 - "$out/ours.json" "$out/torch.json" "$LIMIT" <<'PY'
import json, sys
ours, torch = (json.load(open(p)) for p in sys.argv[1:3])
full = sys.argv[3] == "0"
assert ours["images"] == torch["images"], "the two evaluators saw different image sets"
differ = sum(a != b for a, b in zip(ours["predictions"], torch["predictions"]))
print(f"{ours['images']} test images: SE Lens {ours['accuracy']:.2%}, PyTorch {torch['accuracy']:.2%}, "
      f"{differ} predictions differ; SE Lens took {ours['seconds']:.1f} s")
problems = []
if abs(ours["accuracy"] - torch["accuracy"]) > 0.001:
    problems.append("the accuracies differ by more than 0.1 points")
if full and ours["accuracy"] < 0.93:
    problems.append("the accuracy is below 93 %")
if problems:
    sys.exit("; ".join(problems))
PY
if [ "$LIMIT" = 0 ]; then
    python3 - "$out/ours.json" "$MODEL/class_stats.json" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))
stats = {
    "source": f"se-lens evaluate over the {ours['images']} Fashion-MNIST test images (make accuracy)",
    "images": ours["images"],
    "labels": ours["labels"],
    "class_counts": ours["class_counts"],
    "blocks": [{"block": b["block"],
                "class_means": [[round(v, 7) for v in row] for row in b["class_means"]],
                "mean": [round(v, 7) for v in b["mean"]]} for b in ours["excitations"]],
}
with open(sys.argv[2], "w") as f:
    json.dump(stats, f, separators=(",", ":"))
print(f"wrote {sys.argv[2]}")
PY
fi
