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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=0, help="images per class (0: all)")
    args = parser.parse_args()

    config = json.loads((args.model / "config.json").read_text())
    model_args = {"num_classes": config["num_classes"], **config.get("model_args", {})}
    model = timm.create_model(config["architecture"], pretrained=False, **model_args)
    model.load_state_dict({k: v.float() for k, v in load_file(args.model / "model.safetensors").items()})
    model.eval()
    data_config = resolve_data_config(pretrained_cfg=config["pretrained_cfg"], model=model)
    transform = create_transform(**data_config)
    mode = "L" if data_config["input_size"][0] == 1 else "RGB"

    samples = []
    for folder in sorted(p for p in args.images.iterdir() if p.is_dir()):
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        samples += [(int(folder.name), f) for f in (files[:args.limit] if args.limit else files)]
    predictions = []
    with torch.inference_mode():
        for start in range(0, len(samples), 256):
            batch = torch.stack([transform(Image.open(f).convert(mode)) for _, f in samples[start:start + 256]])
            predictions += model(batch).argmax(1).tolist()
    correct = sum(p == c for p, (c, _) in zip(predictions, samples))
    print(json.dumps({"images": len(samples), "correct": correct, "accuracy": correct / len(samples),
                      "predictions": predictions}))


if __name__ == "__main__":
    main()
