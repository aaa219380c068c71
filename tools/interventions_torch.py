"""The SE block interventions of `se-lens evaluate --interventions`, computed independently in
PyTorch: timm builds the model, forward hooks on each SE module's gate read the gates and replace
them. Checked against the CLI by scripts/interventions.sh (in `make test`).

    .venv/bin/python tools/interventions_torch.py --model assets/models/seresnet10-fmnist \\
        --images target/fmnist-test --limit 2 --ours target/interventions/ours.json

From the CLI's output (`--ours`) it takes only what defines the experiment: the SE blocks, the
list of interventions in order, and the channel permutations (drawn from the seed by SE Lens).
It computes the baseline gates, the dataset and class means, every replaced run, the accuracy
counts and the mean change of the true class's logit itself, and prints them as JSON.
"""
import argparse
import json
from pathlib import Path

import torch
from PIL import Image

from eval_torch import load, samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0, help="images per class (0: all)")
    parser.add_argument("--ours", type=Path, required=True, help="se-lens evaluate --interventions output")
    args = parser.parse_args()
    ours = json.loads(args.ours.read_text())
    blocks = [block["block"] for block in ours["excitations"]]
    permutations = ours["interventions"]["permutations"]
    plan = [(blocks.index(r["block"]), r["replacement"], r["reach"]) for r in ours["interventions"]["results"]]

    model, transform, mode = load(args.model)
    found = samples(args.images, args.limit)
    x = torch.stack([transform(Image.open(f).convert(mode)) for _, f in found])
    labels = torch.tensor([c for c, _ in found])
    rows = torch.arange(len(found))

    # One hook per SE block on its gate (timm's SEModule: `x * self.gate(fc2(...))`): it records
    # the gate, or returns `replace[i]` instead of it.
    seen = {}
    replace = {}

    def hook(i):
        def on_gate(_module, _inputs, output):
            if i in replace:
                return replace[i].reshape(output.shape).to(output.dtype)
            seen[i] = output.reshape(output.shape[0], -1).clone()
        return on_gate

    for i, path in enumerate(blocks):
        model.get_submodule(path).gate.register_forward_hook(hook(i))

    with torch.inference_mode():
        logits = model(x)
        gates = [seen[i] for i in range(len(blocks))]
        predicted = logits.argmax(1)
        classes = logits.shape[1]
        # Means in float64, then float32, as SE Lens computes them.
        dataset_means = [g.double().mean(0).float() for g in gates]
        class_means = [
            [g[labels == k].double().mean(0).float() if (labels == k).any() else None for k in range(classes)]
            for g in gates
        ]

        def replacement(kind, b):
            g = gates[b]
            if kind == "ones":
                return torch.ones_like(g)
            if kind == "dataset_mean":
                return dataset_means[b].expand_as(g)
            if kind == "class_mean":
                means = [class_means[b][k] if class_means[b][k] is not None else dataset_means[b]
                         for k in predicted.tolist()]
                return torch.stack(means)
            if kind == "permuted":
                return g[:, permutations[b]]
            raise ValueError(kind)

        results = []
        for b, kind, reach in plan:
            last = b if reach == "alone" else len(blocks) - 1
            replace.clear()
            replace.update({k: replacement(kind, k) for k in range(b, last + 1)})
            changed = model(x)
            replace.clear()
            results.append({
                "block": blocks[b], "replacement": kind, "reach": reach,
                "correct": int((changed.argmax(1) == labels).sum()),
                "mean_true_logit_change": float((changed[rows, labels] - logits[rows, labels]).double().mean()),
            })
    print(json.dumps({"images": len(found), "predictions": predicted.tolist(), "results": results}))


if __name__ == "__main__":
    main()
