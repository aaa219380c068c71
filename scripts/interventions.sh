#!/usr/bin/env bash
# The SE block interventions of `se-lens evaluate --interventions` against PyTorch with forward
# hooks (tools/interventions_torch.py), on the default model and LIMIT (default 2) Fashion-MNIST
# test images per class. Fails unless every intervention's count of correct images is equal and
# its mean change of the true class's logit is within 1e-4. Run by `make test`, after
# scripts/accuracy.sh has exported the images. Results: target/interventions/{ours,torch}.json, and
# node-data.json for Model Explorer (tools/model_explorer_node_data.py).
# With SHIP=1 it also writes MODEL/importance.json, which the page shows for that model at once
# (the default model's: `LIMIT=100 SHIP=1 scripts/interventions.sh`, 1000 test images).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
scripts/venv.sh

MODEL="${MODEL:-assets/models/seresnet10-fmnist}"
LIMIT="${LIMIT:-2}"
SHIP="${SHIP:-0}"
images=target/fmnist-test
out=target/interventions
[ -f "$images/.complete" ] || { echo "no $images: run scripts/accuracy.sh first" >&2; exit 1; }
mkdir -p "$out"
cli="$(se_lens_cli)"
"$cli" evaluate --model "$MODEL" --images "$images" --limit "$LIMIT" --interventions > "$out/ours.json"
(cd tools && ../.venv/bin/python interventions_torch.py --model "../$MODEL" --images "../$images" \
    --limit "$LIMIT" --ours "../$out/ours.json") > "$out/torch.json"

python3 - "$out/ours.json" "$out/torch.json" <<'PY'
import json, sys
ours, torch = (json.load(open(p)) for p in sys.argv[1:3])
assert ours["images"] == torch["images"], "the two saw different image sets"
assert ours["predictions"] == torch["predictions"], "the unmodified predictions differ"
mine, theirs = ours["interventions"]["results"], torch["results"]
assert len(mine) == len(theirs)
worst = 0.0
problems = []
for a, b in zip(mine, theirs):
    what = f'{a["replacement"]} on {a["block"]} ({a["reach"]})'
    assert (a["block"], a["replacement"], a["reach"]) == (b["block"], b["replacement"], b["reach"])
    if a["correct"] != b["correct"]:
        problems.append(f'{what}: {a["correct"]} correct, PyTorch {b["correct"]}')
    diff = abs(a["mean_true_logit_change"] - b["mean_true_logit_change"])
    worst = max(worst, diff)
    if diff > 1e-4:
        problems.append(f'{what}: true-logit change {a["mean_true_logit_change"]:.6f}, PyTorch {b["mean_true_logit_change"]:.6f}')
print(f'{len(mine)} interventions on {ours["images"]} images: correct counts equal to PyTorch\'s in '
      f'{sum(a["correct"] == b["correct"] for a, b in zip(mine, theirs))}, true-logit changes within '
      f'{worst:.1e}; SE Lens took {ours["seconds"]:.1f} s')
if problems:
    sys.exit("\n".join(problems))
PY

# The same numbers as Model Explorer node data on torch.export's graph of the model: fails unless
# every SE block's gate node is found (the page writes node data itself only for ONNX files).
(cd tools && ../.venv/bin/python model_explorer_node_data.py --model "../$MODEL" \
    --stats "../$out/ours.json" --stat accuracy-lost) > "$out/node-data.json"

if [ "$SHIP" = 1 ]; then
    python3 - "$out/ours.json" "$MODEL/importance.json" "$LIMIT" <<'PY'
import json, sys
ours = json.load(open(sys.argv[1]))
shipped = {
    "source": f"{ours['images']} Fashion-MNIST test images ({sys.argv[3]} per class), by "
              f"`LIMIT={sys.argv[3]} SHIP=1 scripts/interventions.sh`",
    **{key: ours[key] for key in ("images", "correct", "accuracy", "saturation", "interventions", "regions")},
}
open(sys.argv[2], "w").write(json.dumps(shipped, indent=1) + "\n")
print(f"wrote {sys.argv[2]}")
PY
fi
