"""PyTorch's accuracy on a model folder over an ImageFolder tree, for comparison with
`se-lens evaluate` on the same files (`make accuracy`).

    .venv/bin/python tools/eval_torch.py --model assets/models/seresnet10-fmnist --images target/fmnist-test

The model is built by timm from the folder's config.json (`architecture`, `model_args`) with its
safetensors weights; images go through timm's own eval transform for the folder's
`pretrained_cfg` (`timm.data.create_transform`), loaded as `L` for 1-channel models. Images are
taken in `se-lens evaluate`'s order (class folder, then file name). Prints one JSON object with
the accuracy and every prediction.
"""
import argparse
import json
from pathlib import Path

import timm
import torch
from PIL import Image
from safetensors.torch import load_file
from timm.data import create_transform, resolve_data_config


def load(folder: Path):
    """The model of a timm folder, in eval mode, with its eval transform and PIL image mode."""
    config = json.loads((folder / "config.json").read_text())
    model_args = {"num_classes": config["num_classes"], **config.get("model_args", {})}
    model = timm.create_model(config["architecture"], pretrained=False, **model_args)
    model.load_state_dict({k: v.float() for k, v in load_file(folder / "model.safetensors").items()})
    model.eval()
    data_config = resolve_data_config(pretrained_cfg=config["pretrained_cfg"], model=model)
    mode = "L" if data_config["input_size"][0] == 1 else "RGB"
    return model, create_transform(**data_config), mode


def samples(images: Path, limit: int):
    """`(class index, file)` in `se-lens evaluate`'s order, at most `limit` per class (0: all)."""
    found = []
    for folder in sorted(p for p in images.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        found += [(int(folder.name), f) for f in (files[:limit] if limit else files)]
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0, help="images per class (0: all)")
    args = parser.parse_args()

    model, transform, mode = load(args.model)
    found = samples(args.images, args.limit)
    predictions = []
    with torch.inference_mode():
        for start in range(0, len(found), 256):
            batch = torch.stack([transform(Image.open(f).convert(mode)) for _, f in found[start:start + 256]])
            predictions += model(batch).argmax(1).tolist()
    correct = sum(p == c for p, (c, _) in zip(predictions, found))
    print(json.dumps({"images": len(found), "correct": correct, "accuracy": correct / len(found),
                      "predictions": predictions}))


if __name__ == "__main__":
    main()
