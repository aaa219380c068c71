"""Trains SE Lens's embedded default model: a small SE-ResNet on Fashion-MNIST, and the identical
recipe without SE for the ablation in the model card.

    make train                 # both models (~1 hour on 2 cores), gallery, accuracy, model card

or directly (the venv comes from tools/requirements.txt):

    .venv/bin/python tools/train_fmnist.py --arch seresnet18 --out assets/models/seresnet10-fmnist

Data: Debian's `dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist/*.gz, 60k train / 10k
test, 28×28 grey). The model is timm's own ResNet class (`timm.create_model` with `layers`,
`channels`, `in_chans=1`, `num_classes=10`; `seresnet18` adds `attn_layer='se'`) so SE Lens loads
it through the same code path as any timm model.

Input: the 28×28 image upscaled 2× to 56×56 with PIL's bilinear filter (timm's eval transform for
the saved pretrained_cfg: crop_pct 1.0, bilinear), so the ImageNet-style stem (stride 4) leaves
14×14 maps for the first stage. Training and evaluation upscale with `upscale`, bit-identical to
PIL, so PyTorch's accuracy here and SE Lens's on the same PNGs see the same pixels.

Augmentation: random translation by up to 2 pixels (zero padding) and horizontal flips.
Optimiser: SGD with Nesterov momentum 0.9, weight decay 5e-4, one-cycle LR (peak 0.1), batch 128,
label smoothing 0.1. Seeded (model init, shuffling, augmentation); multi-threaded CPU kernels
may still differ in the last bits between machines.

Writes `<out>/config.json` + `<out>/model.safetensors` (timm's hub layout, f16 when the test accuracy
is not lower in f16, else f32) and `<out>/train_log.json` (accuracy, parameters, time, confusion).
"""
import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import timm
import torch
import torch.nn.functional as F

DATA = Path("/usr/share/datasets/fashion-mnist")
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
# The network's input: the 28×28 item upscaled 2×.
SIZE = 56
# Fashion-MNIST's pixel statistics (over the training set, in [0, 1]).
MEAN, STD = 0.2860, 0.3530
# Small enough for the browser (≈ 1.2 M parameters): timm's four stages of one BasicBlock each
# (4 SE blocks), at half the widths of ResNet-18.
MODEL_ARGS = dict(layers=[1, 1, 1, 1], channels=[32, 64, 128, 256], stem_width=32, in_chans=1,
                  num_classes=10)


def read_idx(name: str) -> np.ndarray:
    with gzip.open(DATA / name) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Images as uint8 `[N, 1, 28, 28]` and labels as int64 `[N]`."""
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(f"{prefix}-labels-idx1-ubyte.gz")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def upscale(images: torch.Tensor) -> torch.Tensor:
    """uint8 `[N, 1, 28, 28]` → uint8 `[N, 1, 56, 56]`, exactly as PIL's bilinear `resize` does it
    (what timm's eval transform and SE Lens's preprocessing compute): a horizontal pass, rounded
    to uint8, then a vertical one. For an exact 2× upscale PIL's filter weights are torch's
    (0.75 / 0.25, edge pixels repeated), and every weighted sum is a multiple of 1/16, so the
    float arithmetic below is exact and PIL's fixed-point rounding (half up) is `floor(x + 0.5)`."""
    x = images.float()
    x = F.interpolate(x, size=(28, SIZE), mode="bilinear", align_corners=False).add(0.5).floor()
    x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False).add(0.5).floor()
    return x.to(torch.uint8)


def network_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 `[N, 1, 28, 28]` → the normalised `[N, 1, 56, 56]` float input."""
    return (upscale(images).float() / 255.0 - MEAN) / STD


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 pixels (zero fill) and horizontal flips, per image."""
    n = images.shape[0]
    padded = F.pad(images, (2, 2, 2, 2))
    dy = torch.randint(0, 5, (n,), generator=generator)
    dx = torch.randint(0, 5, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(28)[None, :])[:, None, :, None].expand(n, 1, 28, 32)
    shifted = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(28)[None, :])[:, None, None, :].expand(n, 1, 28, 28)
    shifted = shifted.gather(3, cols)
    flip = torch.rand(n, generator=generator) < 0.5
    shifted[flip] = shifted[flip].flip(3)
    return shifted


@torch.inference_mode()
def predict(model: torch.nn.Module, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    model.eval()
    return torch.cat([model(network_input(images[i:i + batch])).argmax(1)
                      for i in range(0, len(images), batch)])


def confusion(predicted: torch.Tensor, labels: torch.Tensor) -> list[list[int]]:
    matrix = torch.zeros(10, 10, dtype=torch.int64)
    matrix.index_put_((labels, predicted), torch.ones_like(labels), accumulate=True)
    return matrix.tolist()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--arch", choices=["seresnet18", "resnet18"], required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only (smoke runs)")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (default: all cores)")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    train_x, train_y = load("train")
    test_x, test_y = load("test")
    if args.limit:
        train_x, train_y = train_x[:args.limit], train_y[:args.limit]

    model = timm.create_model(args.arch, pretrained=False, **MODEL_ARGS)
    parameters = sum(p.numel() for p in model.parameters())
    steps_per_epoch = len(train_x) // args.batch
    optimiser = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                                weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=args.lr, pct_start=0.25,
                                                   total_steps=args.epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(args.seed)
    log = {"arch": args.arch, "model_args": MODEL_ARGS, "parameters": parameters,
           "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "seed": args.seed,
           "threads": torch.get_num_threads(), "torch": torch.__version__, "timm": timm.__version__,
           "history": []}
    started = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        total_loss = 0.0
        for step in range(steps_per_epoch):
            index = order[step * args.batch:(step + 1) * args.batch]
            x = network_input(augment(train_x[index], generator))
            loss = F.cross_entropy(model(x), train_y[index], label_smoothing=0.1)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            total_loss += loss.item()
        accuracy = (predict(model, test_x) == test_y).float().mean().item()
        elapsed = time.perf_counter() - started
        log["history"].append({"epoch": epoch + 1, "loss": total_loss / steps_per_epoch,
                               "test_accuracy": accuracy, "seconds": elapsed})
        print(f"epoch {epoch + 1}/{args.epochs}: loss {total_loss / steps_per_epoch:.4f}, "
              f"test accuracy {accuracy:.4f}, {elapsed:.0f} s", flush=True)
    log["train_seconds"] = time.perf_counter() - started

    predicted = predict(model, test_x)
    log["test_accuracy"] = (predicted == test_y).float().mean().item()
    log["confusion"] = confusion(predicted, test_y)

    # f16 weights halve the download; keep them only if no test prediction changes.
    half = timm.create_model(args.arch, pretrained=False, **MODEL_ARGS)
    half.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                          for k, v in model.state_dict().items()})
    half_predicted = predict(half, test_x)
    log["f16_changed_predictions"] = int((half_predicted != predicted).sum())
    log["f16_test_accuracy"] = (half_predicted == test_y).float().mean().item()
    use_f16 = log["f16_test_accuracy"] >= log["test_accuracy"]
    log["weights_dtype"] = "float16" if use_f16 else "float32"
    if use_f16:
        model.half()

    args.out.mkdir(parents=True, exist_ok=True)
    timm.models.save_for_hf(
        model, args.out, safe_serialization=True,
        # `photo_preprocess` is SE Lens's key (timm ignores it): fit users' photos to the look of
        # the dataset, 28×28 items on black (src/preprocess/photo.rs).
        model_config={"label_names": LABELS, "photo_preprocess": {"item_on_black": 28}},
        data_config={"input_size": (1, SIZE, SIZE), "interpolation": "bilinear", "crop_pct": 1.0,
                     "crop_mode": "center", "mean": (MEAN,), "std": (STD,)},
    )
    (args.out / "train_log.json").write_text(json.dumps(log, indent=1) + "\n")
    print(json.dumps({k: v for k, v in log.items() if k not in ("history", "confusion")}))


if __name__ == "__main__":
    main()
