#!/usr/bin/env python3
"""Converts a torchvision ImageNet classifier's state dict into a timm model folder that SE Lens loads.

    .venv/bin/python tools/convert_torchvision.py ARCH STATE_DICT.pth OUT_DIR

or from Python (tools/make_fixtures.py does): convert(arch, state_dict, out_dir) -> self-check numbers.

ARCH -> timm architecture (the table ARCHS): mobilenet_v3_large / _small -> mobilenetv3_large_100 / small_100,
efficientnet_b0 .. b7 -> efficientnet_b0 .. b7, efficientnet_v2_s / m / l -> efficientnetv2_s / m / l (timm's
PyTorch-padding EfficientNetV2, not tf_), regnet_y_400mf .. 128gf -> regnety_004 .. regnety_1280 (800mf and 8gf
-> regnety_008_tv and regnety_080_tv: torchvision rounds their group widths differently).
num_classes is read from the classifier's weight. The .pth is loaded with torch.load(weights_only=True).

OUT_DIR gets what timm.models.save_for_hf(model, OUT_DIR, safe_serialization=True) writes for the timm model:
    model.safetensors   timm's tensor names (incl. the int64 `*.num_batches_tracked` scalars)
    config.json         timm's schema. pretrained_cfg is timm's, with the preprocessing of torchvision's
                        DEFAULT weights (their transforms(); metadata only, nothing is downloaded):
                        input_size [3, crop, crop], crop_pct crop / resize, interpolation, crop_mode 'center',
                        mean, std. One extra top-level key records torchvision's naming:
                        "torchvision": {"model": ARCH, "module_names": {timm module path: torchvision module
                        path}} for every module that owns tensors (e.g. "blocks.2.0.conv_pw":
                        "features.4.block.0.0", "conv_head": "classifier.0") and every SE module (which owns
                        none itself: "blocks.2.0.se": "features.4.block.2", a SqueezeExcitation).

Mapping: for these nets both libraries register their tensors in the same order, so the i-th torchvision
tensor becomes the i-th timm tensor. The one exception, RegNet: torchvision registers a block's projection
shortcut (proj) before its branch (f), timm its downsample after (conv1, conv2, se, conv3), so torchvision's
keys are put in timm's order first (tv_keys_in_timm_order). Each pair must agree in tensor name (weight, bias, running_mean, ...),
module kind (conv or linear / batchnorm) and shape, and each module must pair with one module only; any
disagreement is an error naming both keys. The one shape that differs: torchvision MobileNetV3's first
classifier layer is a Linear [out, in], timm's conv_head a 1x1 conv [out, in, 1, 1] (reshaped).

BatchNorm eps: torchvision's MobileNetV3 uses eps 1e-3, timm's mobilenetv3 and efficientnet 1e-5 (the values
are read from both models' modules, pair by pair), and config.json cannot change timm's eps. Eval-mode BN
divides by sqrt(running_var + eps), so the difference is folded into the statistics:
running_var' = running_var + eps_torchvision - eps_timm, and timm's model, with its own eps, computes the
same function. (Without it, every BN's scale is off by up to 0.05% for var ~ 1, far more where the running
variance is small, and the errors compound over ~50 layers.)

Self-check: OUT_DIR is loaded back with timm.create_model('local-dir:OUT_DIR', pretrained=True) and run
against the torchvision model (eval mode) on a random [1, 3, crop, crop] input. The largest logit difference
relative to the largest |logit|, and the largest SE gate difference (each timm SE module against its
torchvision counterpart in module_names), must be at most 1e-4, or the conversion fails (exit 1).
"""
import argparse
import re
import sys
from pathlib import Path

# torchvision architecture -> (timm architecture, state dict key of the last classifier layer's weight)
ARCHS = {
    'mobilenet_v3_large': ('mobilenetv3_large_100', 'classifier.3.weight'),
    'mobilenet_v3_small': ('mobilenetv3_small_100', 'classifier.3.weight'),
    **{f'efficientnet_b{i}': (f'efficientnet_b{i}', 'classifier.1.weight') for i in range(8)},
    **{f'efficientnet_v2_{s}': (f'efficientnetv2_{s}', 'classifier.1.weight') for s in 'sml'},
    **{f'regnet_y_{tv}': (f'regnety_{timm}', 'fc.weight') for tv, timm in (
        ('400mf', '004'), ('800mf', '008_tv'), ('1_6gf', '016'), ('3_2gf', '032'), ('8gf', '080_tv'),
        ('16gf', '160'), ('32gf', '320'), ('128gf', '1280'))},
}
TOLERANCE = 1e-4
CHECK_SEED = 0


class ConversionError(Exception):
    pass


def parent(key):
    return key.rsplit('.', 1)[0]


def tv_keys_in_timm_order(tv_sd):
    """torchvision's state dict keys, each RegNet block's proj.* moved after its f.* (see the docstring)."""
    blocks = {}  # block path -> index of its first key

    def block(key):
        m = re.match(r'(trunk_output\.block\d+\.block\d+-\d+)\.(proj|f)\.', key)
        return (blocks.setdefault(m[1], len(blocks)), m[2] == 'proj') if m else (blocks.setdefault(key, len(blocks)), False)

    return sorted(tv_sd, key=block)  # stable: the order within f and within proj stays


def tensor_pairs(tv_sd, timm_sd):
    """[(torchvision key, timm key)] in timm's order; raises on any count, name or shape mismatch."""
    if len(tv_sd) != len(timm_sd):
        raise ConversionError(f'torchvision has {len(tv_sd)} tensors, timm {len(timm_sd)}')
    pairs = list(zip(tv_keys_in_timm_order(tv_sd), timm_sd))
    for tk, mk in pairs:
        if tk.rsplit('.', 1)[1] != mk.rsplit('.', 1)[1]:
            raise ConversionError(f'tensor names differ: torchvision {tk} vs timm {mk}')
        a, b = tv_sd[tk].shape, timm_sd[mk].shape
        if b != a and b != (*a, 1, 1):
            raise ConversionError(f'shapes differ: torchvision {tk} {list(a)} vs timm {mk} {list(b)}')
    return pairs


def kind(module):
    from torch import nn
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        return 'batchnorm'
    if isinstance(module, (nn.Conv2d, nn.Linear)):
        return 'conv or linear'
    return type(module).__name__


def module_pairs(tv_model, timm_model, pairs):
    """{timm module path: torchvision module path} for the modules owning the paired tensors."""
    tv_mods, timm_mods = dict(tv_model.named_modules()), dict(timm_model.named_modules())
    names = {}
    for tk, mk in pairs:
        tv, tm = parent(tk), parent(mk)
        if names.setdefault(tm, tv) != tv:
            raise ConversionError(f'timm {tm} pairs with torchvision {names[tm]} and {tv}')
        if kind(tv_mods[tv]) != kind(timm_mods[tm]):
            raise ConversionError(f'torchvision {tk} is in a {kind(tv_mods[tv])}, '
                                  f'timm {mk} in a {kind(timm_mods[tm])}')
    if len(set(names.values())) != len(names):
        raise ConversionError('a torchvision module pairs with two timm modules')
    return names


def se_pairs(tv_model, timm_model, names):
    """{timm SqueezeExcite path: torchvision SqueezeExcitation path}, read off their convs' pairs in names."""
    from timm.layers.squeeze_excite import SEModule
    from timm.models._efficientnet_blocks import SqueezeExcite
    from torchvision.ops.misc import SqueezeExcitation
    tv_ses = {p for p, m in tv_model.named_modules() if isinstance(m, SqueezeExcitation)}
    ses = {}
    fcs = {SqueezeExcite: ('conv_reduce', 'conv_expand'), SEModule: ('fc1', 'fc2')}  # EfficientNet, RegNet
    for path, m in timm_model.named_modules():
        if type(m) in fcs:
            fc1, fc2 = (names[f'{path}.{fc}'] for fc in fcs[type(m)])
            tv = parent(fc1)
            if tv not in tv_ses or (fc1, fc2) != (f'{tv}.fc1', f'{tv}.fc2'):
                raise ConversionError(f'timm {path} convs pair with torchvision {fc1}, {fc2}, not the fc1, fc2 '
                                      'of one SqueezeExcitation')
            ses[path] = tv
    if len(ses) != len(tv_ses):
        raise ConversionError(f'{len(tv_ses)} SqueezeExcitation modules in torchvision, {len(ses)} paired')
    return ses


def preprocessing(arch):
    """timm data config from the eval transforms of torchvision's DEFAULT weights for arch."""
    import torchvision
    t = torchvision.models.get_model_weights(arch).DEFAULT.transforms()
    (crop,), (resize,) = t.crop_size, t.resize_size
    interpolation = t.interpolation.value
    assert interpolation in ('bilinear', 'bicubic'), f'{arch}: interpolation {interpolation}'
    return dict(input_size=(3, crop, crop), crop_pct=crop / resize, interpolation=interpolation,
                crop_mode='center', mean=tuple(t.mean), std=tuple(t.std))


def run_with_gates(model, x, gate_modules):
    """(logits, {name: gate [C]}) for gate_modules {name: module whose output is the gate}."""
    import torch
    gates = {}

    def capture(name):
        def hook(_module, _inputs, output):
            gates[name] = output.detach().reshape(-1).clone()
        return hook

    handles = [m.register_forward_hook(capture(name)) for name, m in gate_modules.items()]
    try:
        with torch.no_grad():
            logits = model(x)
    finally:
        for h in handles:
            h.remove()
    return logits, gates


def self_check(tv_model, out_dir, ses, input_size):
    """(max logit difference / max |logit|, max gate difference) of OUT_DIR reloaded by timm vs torchvision."""
    import torch
    import timm
    x = torch.randn((1, *input_size), generator=torch.Generator().manual_seed(CHECK_SEED))
    reloaded = timm.create_model(f'local-dir:{out_dir}', pretrained=True).eval()
    modules = dict(reloaded.named_modules())
    got, got_gates = run_with_gates(reloaded, x, {p: modules[p].gate for p in ses})
    tv_modules = dict(tv_model.named_modules())
    want, want_gates = run_with_gates(tv_model, x, {p: tv_modules[tv].scale_activation for p, tv in ses.items()})
    logits_rel = ((got - want).abs().max() / want.abs().max()).item()
    gates_abs = max(((got_gates[p] - want_gates[p]).abs().max().item() for p in ses), default=0.0)
    return logits_rel, gates_abs


def convert(arch, state_dict, out_dir):
    """Writes OUT_DIR (see the module docstring) and returns the self-check's numbers; raises ConversionError."""
    import timm
    import torchvision
    from timm.models import save_for_hf

    if arch not in ARCHS:
        raise ConversionError(f'unsupported architecture {arch}; supported: {", ".join(ARCHS)}')
    timm_arch, head_key = ARCHS[arch]
    if head_key not in state_dict:
        raise ConversionError(f'{head_key} missing: not a torchvision {arch} state dict')
    num_classes = state_dict[head_key].shape[0]
    tv_model = torchvision.models.get_model(arch, weights=None, num_classes=num_classes).eval()
    try:
        tv_model.load_state_dict(state_dict, strict=True)
    except RuntimeError as e:
        raise ConversionError(f'not a torchvision {arch} state dict: {e}') from e
    timm_model = timm.create_model(timm_arch, pretrained=False, num_classes=num_classes).eval()

    tv_sd, timm_sd = tv_model.state_dict(), timm_model.state_dict()
    pairs = tensor_pairs(tv_sd, timm_sd)
    names = module_pairs(tv_model, timm_model, pairs)
    ses = se_pairs(tv_model, timm_model, names)
    tv_mods, timm_mods = dict(tv_model.named_modules()), dict(timm_model.named_modules())
    converted, eps = {}, set()
    for tk, mk in pairs:
        t = tv_sd[tk].reshape(timm_sd[mk].shape)
        if mk.endswith('.running_var'):
            eps_tv, eps_timm = tv_mods[parent(tk)].eps, timm_mods[parent(mk)].eps
            t = t + (eps_tv - eps_timm)
            eps.add((eps_tv, eps_timm))
        converted[mk] = t
    timm_model.load_state_dict(converted, strict=True)

    owners = {**names, **ses}
    module_names = {p: owners[p] for p, _m in timm_model.named_modules() if p in owners}
    data_config = preprocessing(arch)
    save_for_hf(timm_model, out_dir, safe_serialization=True, data_config=data_config,
                model_config={'torchvision': {'model': arch, 'module_names': module_names}})

    logits_rel, gates_abs = self_check(tv_model, out_dir, ses, data_config['input_size'])
    result = dict(torchvision=arch, timm=timm_arch, num_classes=num_classes, tensors=len(pairs),
                  se_modules=len(ses), bn_eps=sorted(eps), logits_rel_diff=logits_rel, gates_abs_diff=gates_abs)
    print(f'{arch} -> {timm_arch} ({num_classes} classes): {len(pairs)} tensors, {len(ses)} SE, BN eps '
          f'(torchvision, timm) {sorted(eps)}; self-check logits {logits_rel:.1e} rel, gates {gates_abs:.1e} abs; '
          f'{out_dir}', file=sys.stderr)
    if logits_rel > TOLERANCE or gates_abs > TOLERANCE:
        raise ConversionError(f'self-check failed: logits differ by {logits_rel:.2e} relative, gates by '
                              f'{gates_abs:.2e} (limit {TOLERANCE})')
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('arch', choices=ARCHS)
    ap.add_argument('state_dict', type=Path, help='torchvision state dict (.pth)')
    ap.add_argument('out_dir', type=Path)
    a = ap.parse_args()
    import torch
    try:
        convert(a.arch, torch.load(a.state_dict, map_location='cpu', weights_only=True), a.out_dir)
    except ConversionError as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
