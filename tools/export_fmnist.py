"""Writes Fashion-MNIST images from Debian's `dataset-fashion-mnist` as PNG files.

    .venv/bin/python tools/export_fmnist.py --split test --out target/fmnist-test [--limit N]
    .venv/bin/python tools/export_fmnist.py --samples assets/samples

`--out`: the ImageFolder layout `se-lens evaluate` and tools/eval_torch.py read
(`<out>/<class index>/<split>-<image index>.png`, the 28×28 grey pixels unchanged), at most `--limit`
images per class. `--samples`: the app's gallery, the first test image of each class plus the
second Shirt and T-shirt/top, the classes most often confused (12 in all), named `fmnist-<label>-<index>.png`, listed with their labels in `index.json`.
"""
import argparse
import json
from pathlib import Path

from PIL import Image

from train_fmnist import LABELS, load


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", choices=["train", "test"], default="test")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--limit", type=int, default=0, help="images per class (0: all)")
    parser.add_argument("--samples", type=Path)
    args = parser.parse_args()
    images, labels = load(args.split)
    images, labels = images[:, 0].numpy(), labels.tolist()

    if args.out:
        written = [0] * len(LABELS)
        for index, (image, label) in enumerate(zip(images, labels)):
            if args.limit and written[label] >= args.limit:
                continue
            folder = args.out / str(label)
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image).save(folder / f"{args.split}-{index:05d}.png")
            written[label] += 1
        print(f"wrote {sum(written)} images under {args.out}")

    if args.samples:
        args.samples.mkdir(parents=True, exist_ok=True)
        firsts = [labels.index(c) for c in range(len(LABELS))]
        extra = [next(i for i in range(firsts[c] + 1, len(labels)) if labels[i] == c)
                 for c in (LABELS.index("Shirt"), LABELS.index("T-shirt/top"))]
        entries = []
        for index in sorted(firsts + extra):
            label = LABELS[labels[index]]
            file = f"fmnist-{label.lower().replace('/', '-').replace(' ', '-')}-{index}.png"
            Image.fromarray(images[index]).save(args.samples / file)
            entries.append({"file": file, "label": label})
        (args.samples / "index.json").write_text(json.dumps(entries, indent=1) + "\n")
        print(f"wrote {len(entries)} samples to {args.samples}")


if __name__ == "__main__":
    main()
