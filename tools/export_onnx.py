#!/usr/bin/env python3
"""Exports a timm hub folder (config.json + model.safetensors) to ONNX, for the browser benchmark's
ONNX Runtime Web side (scripts/bench-web.sh): the same weights SE Lens runs, so both engines compute
the same function and their outputs can be cross-checked.

    .venv/bin/python tools/export_onnx.py MODEL_DIR OUT.onnx [--size 224]

Batch 1, float32, input `input` [1, C, size, size], output `logits`; opset 17, constant folding on
(BatchNorm folded into the convolutions, as SE Lens does). Checks the file with onnx.checker and
prints one JSON line (path, size). Whether ONNX Runtime computes what SE Lens computes is checked
where both run: the benchmark page compares their logits.
"""
import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model_dir', type=Path)
    parser.add_argument('out', type=Path)
    parser.add_argument('--size', type=int, default=224)
    args = parser.parse_args()

    import onnx
    import timm
    import torch

    torch.set_num_threads(2)
    model = timm.create_model(f'local-dir:{args.model_dir.resolve()}', pretrained=True).eval()
    in_chans = model.default_cfg.get('input_size', (3,))[0]
    x = torch.zeros(1, in_chans, args.size, args.size)
    tmp = args.out.with_suffix('.onnx.tmp')
    with torch.no_grad():
        torch.onnx.export(model, (x,), str(tmp), dynamo=False, opset_version=17,
                          input_names=['input'], output_names=['logits'], do_constant_folding=True)
    onnx.checker.check_model(str(tmp))
    tmp.replace(args.out)
    print(json.dumps({'onnx': str(args.out), 'bytes': args.out.stat().st_size,
                      'model': str(args.model_dir), 'size': args.size, 'onnx_version': onnx.__version__}))


if __name__ == '__main__':
    main()
