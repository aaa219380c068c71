"""SE Lens's per-block gate statistics as node data for Google's Model Explorer, on the graph that
`torch.export` gives of a timm model folder (what Model Explorer's PyTorch adapter shows).

    .venv/bin/python tools/model_explorer_node_data.py --model assets/models/seresnet10-fmnist \
        --stats gates.csv --stat mean-gate > node-data.json
    model-explorer model.pt2 --node_data_paths=node-data.json

`--stats` is the page's `gates.csv` (one row per SE block, keyed by module path) or an importance
JSON (the page's `importance.json`, or `se-lens evaluate --interventions`' output). The value put on
each block's gate node is its mean gate (`mean-gate`) or the percentage points of accuracy lost
when the block alone is removed (`accuracy-lost`). A block's gate node is the last sigmoid (or
hard sigmoid) that ran inside the block's module; every SE block must have one. For an ONNX file
the page writes node data itself (Model Explorer keys ONNX nodes by their names).
"""
import argparse
import csv
import json
import sys
from pathlib import Path

import torch

from eval_torch import load

GATES = ("sigmoid", "hardsigmoid", "hard_sigmoid")


def block_stats(path: Path, stat: str) -> dict:
    """`{module path: value}` from a gates.csv or an importance JSON."""
    if path.suffix == ".csv":
        rows = list(csv.DictReader(path.open()))
        if stat == "mean-gate":
            return {r["block"]: float(r["mean_gate"]) for r in rows}
        return {r["block"]: (float(r["accuracy"]) - float(r["accuracy_without_block"])) * 100 for r in rows}
    data = json.loads(path.read_text())
    if stat == "mean-gate":
        return {s["block"]: s["mean"] for s in data["saturation"]}
    return {
        r["block"]: (data["accuracy"] - r["accuracy"]) * 100
        for r in data["interventions"]["results"]
        if r["replacement"] == "ones" and r["reach"] == "alone"
    }


def gate_nodes(model, input_size, blocks) -> dict:
    """`{module path: FX node name}`: the last gate function each block's module ran."""
    example = torch.zeros(1, *input_size)
    program = torch.export.export(model, (example,))
    found = {}
    for node in program.graph_module.graph.nodes:
        if node.op != "call_function":
            continue
        name = getattr(node.target, "__name__", str(node.target)).split(".")[0]
        if name not in GATES:
            continue
        for path, _ in node.meta.get("nn_module_stack", {}).values():
            for block in blocks:
                if path == block or path.startswith(block + "."):
                    found[block] = node.name
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True, help="a timm model folder")
    parser.add_argument("--stats", type=Path, required=True, help="gates.csv or an importance JSON")
    parser.add_argument("--stat", choices=("mean-gate", "accuracy-lost"), default="mean-gate")
    args = parser.parse_args()

    model, _, _ = load(args.model)
    config = json.loads((args.model / "config.json").read_text())
    stats = block_stats(args.stats, args.stat)
    nodes = gate_nodes(model, config["pretrained_cfg"]["input_size"], stats)
    missing = sorted(set(stats) - set(nodes))
    if missing:
        sys.exit(f"no gate node found in torch.export's graph for {', '.join(missing)}")
    results = {nodes[block]: {"value": value} for block, value in stats.items()}
    gradient = [{"stop": 0, "bgColor": "#4e79a7"}, {"stop": 1, "bgColor": "#f28e2b"}]
    # Model Explorer's PyTorch adapter names its one graph "graph".
    print(json.dumps({"graph": {"results": results, "gradient": gradient}}, indent=1))
    print(f"{len(results)} SE blocks on their gate nodes: "
          + ", ".join(f"{b} → {nodes[b]}" for b in stats), file=sys.stderr)


if __name__ == "__main__":
    main()
