"""Converts a timm hub folder's `pytorch_model.bin` into the `model.safetensors` SE Lens reads.

    .venv/bin/python tools/convert_to_safetensors.py MODEL_DIR

Loads the pickle with `torch.load(weights_only=True)` (tensors only, no code runs), writes
`MODEL_DIR/model.safetensors` next to it and leaves `config.json` and the .bin untouched.
"""
import pathlib
import sys

import torch
from safetensors.torch import save_file


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    folder = pathlib.Path(sys.argv[1])
    state = torch.load(folder / "pytorch_model.bin", map_location="cpu", weights_only=True)
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    tensors = {name: t.contiguous() for name, t in state.items() if isinstance(t, torch.Tensor)}
    save_file(tensors, str(folder / "model.safetensors"), metadata={"format": "pt"})
    print(f"wrote {folder / 'model.safetensors'} ({len(tensors)} tensors)")


if __name__ == "__main__":
    main()
