#!/usr/bin/env python3
"""Reference fixtures for SE Lens's parity tests, made with PyTorch + timm (pins: tools/requirements.txt).

Regenerate (the normal way; installs the venv, caches by content hash, prints the folder last):

    scripts/fixtures.sh                        # default set -> ${SE_LENS_FIXTURES:-~/.cache/se-lens/fixtures}/<hash>
    SE_LENS_FIXTURES_LARGE=1 scripts/fixtures.sh   # adds the --large cases

or by hand, with the venv made by scripts/fixtures.sh:

    .venv/bin/python tools/make_fixtures.py OUT_DIR [--large] [--only NAME ...] [--missing] [--commit-tiny]

`--commit-tiny` also copies the tiny cases into tests/fixtures/models/ (committed, so the Rust tests run
without torch). It is a flag, not automatic, because torch's CPU kernels may differ in the last bit
between processors: regenerate the committed copy on purpose, not as a side effect.

Layout, per case: OUT_DIR/<case>/
    config.json, model.safetensors   exactly what timm.models.save_for_hf(model, dir, safe_serialization=True,
                                     model_args=<case args>) writes (state_dict names, incl. int64
                                     `*.num_batches_tracked` scalars the loader must skip)
    expected.safetensors             input    f32 [1, in_chans, 160, 192], N(0, 1), seed INPUT_SEED
                                     logits   f32 [1, num_classes]
                                     gate/<module path of each SE module>   f32 [C], post-sigmoid
    model_f16/                       (seresnet18_tiny only) the same model, f16 weights; expected outputs are
                                     still the f32 model's
plus OUT_DIR/manifest.json (cases, architectures, args, shapes, gate counts, param counts, versions).

Tolerances the Rust tests use against these: logits 1e-4 relative (to max |logit|), gates 1e-4 absolute;
the f16 model looser (the test chooses it).

Models are randomised so every part matters: BatchNorm statistics and affine parameters are drawn
(running_mean ~ N(0, 0.1), running_var ~ U(0.5, 1.5), weight ~ U(0.5, 1.5), bias ~ N(0, 0.1); this
overrides timm's zero init of each residual branch's last BN, which would hide SE bugs), and every conv and
linear keeps timm's init but is rescaled, in forward order, so that its output has RMS 1 on a calibration
input (LSUV-style, one pass): activations, gates and logits stay O(1).
"""
import argparse
import json
import shutil
import sys
import time
import zlib
from pathlib import Path

INPUT_HW = (160, 192)  # height, width: not square, not 224
INPUT_SEED = 0
CALIB_SEED = 1
REPO = Path(__file__).resolve().parent.parent
COMMITTED_DIR = REPO / 'tests' / 'fixtures' / 'models'
# The brief said 2 MB; the specified tiny cases take ~6.6 MB (1.2 MB of it the four f32 inputs).
COMMITTED_LIMIT = 8 * 1024 * 1024
F16_CASES = ('seresnet18_tiny',)

# name -> (timm architecture, create_model args); args also go to save_for_hf(model_args=...).
TINY = {
    # BasicBlock; non-deep stem keeps 64 channels, so layer1.0 gets a 1x1 projection (64 -> 8).
    'seresnet18_tiny': ('seresnet18', dict(channels=(8, 16, 32, 64), num_classes=10)),
    # deep stem, avg_down downsample, grouped 3x3 (cardinality 4). num_classes=10: a 1000-class head would
    # add 2 MB to the committed copy; the full-size cases cover 1000 classes.
    'seresnext26d_tiny': ('seresnext26d_32x4d', dict(channels=(16, 32, 64, 128), cardinality=4, num_classes=10)),
    # Bottleneck, 1-channel input, deep_tiered stem (12, 16, 32), 7 classes.
    'seresnet50_tiny_inchans1': ('seresnet50', dict(
        channels=(8, 16, 32, 64), in_chans=1, num_classes=7, stem_type='deep_tiered', stem_width=16)),
    # no SE at all: zero gates.
    'resnet18_tiny': ('resnet18', dict(channels=(8, 16, 32, 64), num_classes=10)),
}
# Full size, default args (1000 classes) unless given.
FULL = {
    'seresnet18': None, 'seresnet34': None, 'seresnet50': None,
    # timm 1.0.31 registers no `seresnet50d`: it is seresnet50 with resnet50d's stem and downsample args
    # (deep 32-32-64 stem, avg_down), saved as architecture "seresnet50" + model_args.
    'seresnet50d': ('seresnet50', dict(stem_width=32, stem_type='deep', avg_down=True)),
    'seresnext26d_32x4d': None, 'seresnext50_32x4d': None, 'resnet50': None,
    'legacy_seresnet18': None, 'legacy_seresnet50': None, 'legacy_seresnext26_32x4d': None, 'legacy_senet154': None,
    # The rest of the families the engine claims: plain ResNet/ResNeXt, tiered stems, legacy variants.
    'resnet18': None, 'resnext50_32x4d': None, 'seresnet50t': None, 'seresnext26t_32x4d': None,
    'legacy_seresnet34': None, 'legacy_seresnext50_32x4d': None,
}
LARGE = {
    'seresnet101': None, 'seresnext101_32x4d': None, 'seresnet152': None, 'seresnet152d': None,
    'legacy_seresnet101': None, 'legacy_seresnet152': None, 'legacy_seresnext101_32x4d': None,
}


def all_cases(large):
    cases = dict(TINY)
    for name, spec in {**FULL, **(LARGE if large else {})}.items():
        cases[name] = spec or (name, {})
    return cases


def case_files(name):
    files = ['config.json', 'model.safetensors', 'expected.safetensors']
    if name in F16_CASES:
        files += ['model_f16/config.json', 'model_f16/model.safetensors']
    return files


def case_complete(out_dir, name, manifest):
    return name in manifest.get('cases', {}) and all((out_dir / name / f).is_file() for f in case_files(name))


def read_manifest(out_dir):
    try:
        return json.loads((out_dir / 'manifest.json').read_text())
    except (OSError, ValueError):
        return {}


def se_modules(model):
    """(path, SE module, gate module) for every SE module, in module order."""
    from timm.layers.squeeze_excite import SEModule as TimmSE
    from timm.models.senet import SEModule as LegacySE
    found = []
    for path, m in model.named_modules():
        if isinstance(m, LegacySE):
            found.append((path, m, m.sigmoid))  # legacy senet: fc1, relu, fc2, sigmoid
        elif isinstance(m, TimmSE):
            found.append((path, m, m.gate))  # timm: fc1, bn (Identity), act, fc2, gate
        elif 'SEModule' in type(m).__name__ or 'Excite' in type(m).__name__:  # a variant this script misses
            raise AssertionError(f'unexpected SE-like module {path}: {type(m)}')
    return found


def randomise(model, seed, calib):
    import torch
    from torch import nn
    g = torch.Generator().manual_seed(seed)
    n_bn = 0
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                n_bn += 1
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                raise AssertionError(f'unexpected norm {type(m)}')

        # One calibration pass; each conv/linear rescales itself when it runs, so later layers see the
        # already rescaled activations (sequential LSUV in a single forward).
        def rescale(module, _inputs, output):
            rms = output.pow(2).mean().sqrt().item()
            assert rms > 0 and rms == rms, f'dead layer {module}'
            module.weight.div_(rms)
            if module.bias is not None:
                module.bias.div_(rms)
            return output / rms

        handles = [m.register_forward_hook(rescale) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        try:
            model(calib)
        finally:
            for h in handles:
                h.remove()
    return n_bn, len(handles)


def make_case(name, arch, args, out_dir):
    import torch
    import timm
    from safetensors.torch import save_file
    from timm.models import save_for_hf

    t0 = time.time()
    seed = zlib.crc32(name.encode())
    torch.manual_seed(seed)  # timm's own init draws from the global generator
    model = timm.create_model(arch, pretrained=False, **args)
    model.eval().float()
    in_chans = args.get('in_chans', 3)
    shape = (1, in_chans, *INPUT_HW)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(INPUT_SEED), dtype=torch.float32)
    calib = torch.randn(shape, generator=torch.Generator().manual_seed(CALIB_SEED), dtype=torch.float32)
    n_bn, n_lin = randomise(model, seed, calib)

    ses = se_modules(model)
    gates = {}

    def capture(path):
        def hook(_module, _inputs, output):
            assert path not in gates, f'gate {path} ran twice'
            assert output.shape == (1, output.shape[1], 1, 1), output.shape
            gates[f'gate/{path}'] = output.detach().reshape(-1).clone().contiguous()
        return hook

    handles = [gate.register_forward_hook(capture(path)) for path, _se, gate in ses]
    with torch.no_grad():
        logits = model(x).contiguous()
    for h in handles:
        h.remove()
    assert len(gates) == len(ses), f'{len(gates)} gates for {len(ses)} SE modules'
    for path, se, _gate in ses:
        assert gates[f'gate/{path}'].numel() == se.fc2.out_channels

    assert logits.dtype == torch.float32 and logits.shape == (1, model.num_classes), logits.shape
    assert torch.isfinite(logits).all(), 'non-finite logits'
    assert logits.std().item() > 1e-3, f'logits too flat: std {logits.std().item()}'
    if gates:
        allg = torch.cat(list(gates.values()))
        assert torch.isfinite(allg).all()
        assert allg.std().item() > 0.02, f'gates all ~{allg.mean().item():.3f}'
        saturated = ((allg < 1e-3) | (allg > 1 - 1e-3)).float().mean().item()
        assert saturated < 0.25, f'{saturated:.0%} of gates saturated'
        per_module_std = [g.std().item() for g in gates.values()]
        gate_stats = dict(min=allg.min().item(), mean=allg.mean().item(), max=allg.max().item(),
                          std=allg.std().item(), saturated=saturated, min_module_std=min(per_module_std))
    else:
        gate_stats = None

    case_dir = out_dir / name
    tmp = out_dir / f'{name}.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    save_for_hf(model, tmp, safe_serialization=True, model_args=dict(args) or None)
    expected = {'input': x.contiguous(), 'logits': logits, **gates}
    # One metadata key: safetensors writes several in random order, and the bytes should be reproducible.
    save_file(expected, str(tmp / 'expected.safetensors'), metadata={'fixture': json.dumps(dict(
        case=name, architecture=arch, input_seed=INPUT_SEED, timm=timm.__version__, torch=torch.__version__),
        sort_keys=True)})
    if name in F16_CASES:
        import copy
        save_for_hf(copy.deepcopy(model).half(), tmp / 'model_f16', safe_serialization=True,
                    model_args=dict(args) or None)

    # Round trip: what a user would do with the shared folder must give back the same logits.
    with torch.no_grad():
        again = timm.create_model(f'local-dir:{tmp}', pretrained=True).eval()(x)
    assert torch.equal(again, logits), f'local-dir reload differs: {(again - logits).abs().max().item()}'
    if name in F16_CASES:
        with torch.no_grad():
            m16 = timm.create_model(f'local-dir:{tmp / "model_f16"}', pretrained=True).eval().float()
            d16 = ((m16(x) - logits).abs().max() / logits.abs().max()).item()
    else:
        d16 = None

    shutil.rmtree(case_dir, ignore_errors=True)
    tmp.rename(case_dir)
    entry = dict(
        architecture=arch,
        model_args={k: list(v) if isinstance(v, tuple) else v for k, v in args.items()},
        input_shape=list(shape),
        num_classes=model.num_classes,
        num_gates=len(gates),
        gate_names=list(gates),
        param_count=sum(p.numel() for p in model.parameters()),
        batchnorms=n_bn,
        rescaled_layers=n_lin,
        seed=seed,
        logits_abs_max=logits.abs().max().item(),
        logits_std=logits.std().item(),
        gate_stats=gate_stats,
        files=case_files(name),
        bytes=sum(f.stat().st_size for f in case_dir.rglob('*') if f.is_file()),
    )  # no timings in here: the manifest is as reproducible as the tensors
    if d16 is not None:
        entry['f16_logits_rel_err'] = d16
    gs = (f'gates n={len(gates)} min/mean/max {gate_stats["min"]:.3f}/{gate_stats["mean"]:.3f}/'
          f'{gate_stats["max"]:.3f}' if gate_stats else 'no gates')
    print(f'{name:28s} {time.time() - t0:6.1f}s  {entry["bytes"] / 1e6:8.2f} MB  params {entry["param_count"]:>10,}  '
          f'logits std {entry["logits_std"]:.3f}  {gs}', file=sys.stderr, flush=True)
    return entry


def write_manifest(out_dir, manifest):
    tmp = out_dir / 'manifest.json.tmp'
    tmp.write_text(json.dumps(manifest, indent=2) + '\n')
    tmp.replace(out_dir / 'manifest.json')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('out_dir', type=Path)
    ap.add_argument('--only', nargs='+', metavar='NAME', help='just these cases (any, large ones included)')
    ap.add_argument('--large', action='store_true', help='add ' + ', '.join(LARGE))
    ap.add_argument('--missing', action='store_true', help='skip cases already complete in OUT_DIR')
    ap.add_argument('--check', action='store_true',
                    help='exit 0 if every selected case is complete in OUT_DIR, 1 otherwise; writes nothing')
    ap.add_argument('--commit-tiny', action='store_true', help=f'also copy the tiny cases to {COMMITTED_DIR}')
    a = ap.parse_args()

    every = all_cases(large=True)
    if a.only:
        unknown = [n for n in a.only if n not in every]
        if unknown:
            ap.error(f'unknown case(s) {unknown}; known: {", ".join(every)}')
        selected = {n: every[n] for n in a.only}
    else:
        selected = all_cases(a.large)
    out_dir = a.out_dir
    manifest = read_manifest(out_dir)
    if a.check:
        sys.exit(0 if all(case_complete(out_dir, n, manifest) for n in selected) else 1)
    if a.missing:
        selected = {n: v for n, v in selected.items() if not case_complete(out_dir, n, manifest)}

    import torch
    import timm
    torch.set_num_threads(2)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest.setdefault('cases', {})
    manifest.update(
        timm_version=timm.__version__, torch_version=torch.__version__,
        input_hw=list(INPUT_HW), input_seed=INPUT_SEED,
        tolerances=dict(logits_rel=1e-4, gates_abs=1e-4),
        generator='tools/make_fixtures.py')
    t0 = time.time()
    for name, (arch, args) in selected.items():
        manifest['cases'][name] = make_case(name, arch, args, out_dir)
        write_manifest(out_dir, manifest)  # after each case, so an interrupted run keeps what it made
    manifest['cases'] = {n: manifest['cases'][n] for n in every if n in manifest['cases']}
    write_manifest(out_dir, manifest)
    total = sum(f.stat().st_size for f in out_dir.rglob('*') if f.is_file())
    print(f'{len(selected)} case(s) in {time.time() - t0:.1f}s; {out_dir} holds {total / 1e6:.1f} MB',
          file=sys.stderr)

    if a.commit_tiny:
        missing = [n for n in TINY if not case_complete(out_dir, n, manifest)]
        if missing:
            sys.exit(f'--commit-tiny: {missing} not generated in {out_dir}')
        size = sum(f.stat().st_size for n in TINY for f in (out_dir / n).rglob('*') if f.is_file())
        if size > COMMITTED_LIMIT:
            sys.exit(f'--commit-tiny: tiny cases take {size / 1e6:.2f} MB, over {COMMITTED_LIMIT / 1e6:.2f} MB')
        shutil.rmtree(COMMITTED_DIR, ignore_errors=True)
        COMMITTED_DIR.mkdir(parents=True)
        for n in TINY:
            shutil.copytree(out_dir / n, COMMITTED_DIR / n)
        tiny_manifest = dict(manifest, cases={n: manifest['cases'][n] for n in TINY})
        write_manifest(COMMITTED_DIR, tiny_manifest)
        print(f'copied {len(TINY)} tiny cases ({size / 1e6:.2f} MB) to {COMMITTED_DIR}', file=sys.stderr)


if __name__ == '__main__':
    main()
