#!/usr/bin/env python3
"""Reference fixtures for SE Lens's parity tests, made with PyTorch + timm / torchvision (pins: tools/requirements.txt).

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
                                     `*.num_batches_tracked` scalars the loader must skip); for the tv_* cases
                                     what tools/convert_torchvision.py writes (the same, plus a "torchvision"
                                     block mapping timm module paths to torchvision's)
    expected.safetensors             input    f32 [1, in_chans, H, W], N(0, 1), seed INPUT_SEED
                                     logits   f32 [1, num_classes]
                                     gate/<module path of each SE module>   f32 [C], the gate's output
                                     (sigmoid, or hard-sigmoid in MobileNetV3, which is exactly 0 or 1 for
                                     some channels)
    model_f16/                       (seresnet18_tiny only) the same model, f16 weights; expected outputs are
                                     still the f32 model's
plus OUT_DIR/manifest.json (cases, sources, architectures, args, input shapes, gate counts and names, param
counts, versions; the tv_* cases also the converter's self-check).

Input H x W: (160, 192) for the (SE-)ResNet/ResNeXt/SENet cases; (161, 191) for MobileNetV3 and EfficientNet,
odd so that TF "same" padding (tf_efficientnet_b0) needs asymmetric pads.

Cases: TINY (small widths, few classes; the ones --commit-tiny copies), FULL (default args, 1000 classes),
LARGE (--large) and TORCHVISION: tv_<torchvision model>, built by torchvision (weights=None, 1000 classes),
randomised like the rest; expected logits and gates come from torchvision, so the gate names are torchvision
module paths (gate/features.4.block.2), and the folder is the converted timm model (tv_mobilenet_v3_large ->
mobilenetv3_large_100, BatchNorm eps folded into running_var: see tools/convert_torchvision.py).

Tolerances the Rust tests use against these: logits 1e-4 relative (to max |logit|), gates 1e-4 absolute;
the f16 model looser (the test chooses it).

Models are randomised so every part matters: BatchNorm statistics and affine parameters are drawn
(running_mean ~ N(0, 0.1), running_var ~ U(0.5, 1.5), weight ~ U(0.5, 1.5), bias ~ N(0, 0.1); this
overrides timm's zero init of each residual branch's last BN, which would hide SE bugs), and every conv and
linear keeps its library's init but is rescaled, in forward order, so that its output has RMS 1 on a calibration
input (LSUV-style, one pass): activations, gates and logits stay O(1).
"""
import argparse
import json
import shutil
import sys
import time
import zlib
from pathlib import Path
from typing import NamedTuple

RESNET_HW = (160, 192)  # height, width: not square, not 224
MBCONV_HW = (161, 191)  # MobileNetV3 / EfficientNet: odd as well, so TF "same" padding pads asymmetrically
INPUT_SEED = 0
CALIB_SEED = 1
REPO = Path(__file__).resolve().parent.parent
COMMITTED_DIR = REPO / 'tests' / 'fixtures' / 'models'
# The brief said 2 MB; the specified tiny cases take ~9.3 MB: ~6.6 MB the four (SE-)ResNets (1.2 MB of it their
# f32 inputs), ~2.7 MB mobilenetv3_small_050_tiny (2.4 MB weights, half of it the 1024 x 288 conv_head); the
# RegNetY and ReXNet cases for the wasm32 tests add ~1 MB.
COMMITTED_LIMIT = 11 * 1024 * 1024
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
    # MobileNetV3: depthwise convs, hard-swish, hard-sigmoid SE gates, conv_head with bias; 161 x 191 input.
    'mobilenetv3_small_050_tiny': ('mobilenetv3_small_050', dict(num_classes=10)),
    # Two of the families issue 19 added, for the wasm32 tests; a 65 x 79 input (INPUT_HW) keeps them ~0.2 MB each.
    # RegNetY narrowed through RegNetCfg's fields: stage widths 8, 16, 32 (3 blocks), 64; SE from the input width.
    'regnety_002_tiny': ('regnety_002', dict(num_classes=10, depth=6, w0=8, wa=8.0, wm=2.0, group_size=8)),
    # ReXNet at a quarter width and depth: SE with a BatchNorm, ReLU6 after the scale, a shortcut into the first channels.
    'rexnet_100_tiny': ('rexnet_100', dict(num_classes=10, width_mult=0.25, depth_mult=0.25)),
}
# Cases on another input than their family's (RESNET_HW or MBCONV_HW): smaller, where that keeps them small or fast.
INPUT_HW = {'regnety_002_tiny': (65, 79), 'rexnet_100_tiny': (65, 79), 'sedarknet21_c17': (97, 113),
            'hgnet_tiny_c17': (97, 113)}
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
    # MBConv nets (161 x 191 input); tf_efficientnet_b0: TF "same" padding, BatchNorm eps 1e-3.
    'mobilenetv3_large_100': None, 'mobilenetv3_small_100': None,
    'efficientnet_b0': None, 'efficientnet_b1': None, 'efficientnet_b2': None, 'efficientnet_b3': None,
    'tf_efficientnet_b0': None,
    # make bench's rows beyond the first families (issue 19).
    'regnety_040': None, 'efficientnetv2_rw_t': None,
}
# One small model of every other timm family SE Lens builds (issue 19): random weights, 17 classes, the
# odd 161 x 191 input; the name says what each adds.
FAMILIES = {f'{arch}_c17': (arch, dict(num_classes=17)) for arch in (
    'efficientnetv2_rw_t',  # edge residuals (er), a 3x3 ConvBnAct stem stage with a skip
    'tf_efficientnetv2_b0',  # the same in TF "SAME" padding, round_limit=0 rounding
    'mixnet_s', 'tf_mixnet_s',  # mixed 3..11 depthwise kernels, grouped pointwise (a1.1, p1.1); SAME padding
    'semnasnet_050', 'mnasnet_small',  # MnasNet with SE, ReLU
    'tinynet_e',  # round depth truncation, fixed stem
    'tf_mobilenetv3_small_075', 'mobilenetv3_rw',  # TF port; the bias-free head, SE with the block's act
    'fbnetv3_b',  # hard-swish inside the SE, round_limit 0.95
    'hardcorenas_a', 'lcnet_035',  # per-block SE choices; dsa blocks (pointwise act, no skip)
    'lcnetv2_small',  # re-parameterisable 5/3/1 depthwise branches summed, SE before the split pointwise pair
    'regnety_002',  # RegNetY: grouped bottlenecks, SE from the block's input width
    'regnetv_040',  # pre-activation RegNetY: BatchNorms no convolution precedes, SiLU, a final act alone
    'regnetz_005',  # inverted bottlenecks, no shortcut where the shape changes, a head convolution
    'rexnet_100', 'rexnetr_100',  # SE with a BatchNorm, ReLU6 after the scale, a shortcut into the first channels
    'ghostnet_050',  # ghost modules (concatenated primary and cheap convolutions), hard-sigmoid SE
    'repghostnet_050',  # the cheap depthwise convolution plus an identity BatchNorm (summed), not concatenated
    'ghostnetv2_100',  # DFC attention: pooled to half, 1x5 and 5x1 depthwise, resized back (nearest) to odd sizes
    'ghostnetv3_050',  # v2 with three-branch primary, cheap (plus 1x1 and identity) and strided depthwise convolutions
    'ese_vovnet19b_slim_dw',  # one-shot aggregation of separable convolutions, effective SE (one FC)
    'ese_vovnet19b_slim',  # the same with dense 3x3 convolutions and a 128-wide stem
    'hgnet_tiny',  # PP-HGNet: the same aggregation with a sigmoid-gated eSE, a bias-free 1x1 after the pool (97 x 113)
    'cspnext_tiny',  # CSP layers (main path of blocks and short path concatenated, effective SE over both), SPP max pools
)}
# timm ResNet-class variants, narrowed (channels 16…128) to keep the fixtures small.
NARROW = (16, 32, 64, 128)
FAMILIES.update({
    # ResNet-RS: a 3x3 stride-2 convolution for the stem's pool, SE with rd_ratio 0.25
    'resnetrs50_c17': ('resnetrs50', dict(num_classes=17, channels=NARROW)),
    # anti-aliased downsampling (2x2 average pools after stride-1 3x3 convolutions, in the stem too)
    'seresnetaa50d_c17': ('seresnetaa50d', dict(num_classes=17, channels=NARROW)),
    # BasicBlock anti-aliasing with an effective SE (one FC, hard sigmoid) through block_args
    'resnetaa34d_ese_c17': ('resnetaa34d', dict(num_classes=17, channels=NARROW, block_args=dict(attn_layer='ese'))),
    # timm's ResNet-class SENet-154: 64 groups, 3x3 downsample, block_reduce_first=2
    'senet154_c17': ('senet154', dict(num_classes=17, channels=(32, 64, 128, 256), layers=(1, 1, 2, 1))),
    # byobnet.py, narrowed through ByoModelCfg.width_factor. SE-ResNeXt-26-TS: tiered 3-conv stem and a max pool,
    # SiLU, grouped 3x3, 1x1 shortcut convolutions
    'seresnext26ts_c17': ('seresnext26ts', dict(num_classes=17, width_factor=0.5)),
    # tiered stem without a pool (its last convolution strided), a 1x1 final_conv before the pool
    'seresnet33ts_c17': ('seresnet33ts', dict(num_classes=17, width_factor=0.25)),
    # RegNetZ: one 3x3 stem convolution, bottlenecks sized from the input (bottle_in), linear outputs,
    # no shortcut where the shape changes
    'regnetz_c16_c17': ('regnetz_c16', dict(num_classes=17, width_factor=0.5)),
    # the same with a tiered stem and a first stage of stride 1 (its first block changes width, no shortcut)
    'regnetz_d8_c17': ('regnetz_d8', dict(num_classes=17, width_factor=0.5)),
    # RepVGG-D2SE: 3x3 + 1x1 + identity-BatchNorm branches summed (one conv here), the SE after the sum, one in the
    # stem too (64 channels, and SEs a quarter wide rather than a sixteenth: 1- or 2-wide ones, which ReLU may
    # leave dead)
    'repvgg_d2se_c17': ('repvgg_d2se', dict(num_classes=17, width_factor=0.125, stem_chs=512,
                                            attn_kwargs=dict(rd_ratio=0.25, rd_divisor=1))),
    # MobileOne-S4: depthwise and pointwise blocks of summed k x k, 1x1 and identity-BatchNorm branches, SE in the last
    # pairs of the last two stages
    'mobileone_s4_c17': ('mobileone_s4', dict(num_classes=17, width_factor=0.25)),
    # RepViT: token mixers of summed depthwise 3x3, 1x1 and identity branches then a BatchNorm, SE in every other
    # block, GELU channel mixers with a residual, a BatchNorm + linear head averaged with its distillation twin
    'repvit_m0_9_c17': ('repvit_m0_9', dict(num_classes=17, embed_dim=(16, 32, 48, 64), depth=(2, 2, 3, 1))),
    # the legacy layout: the 1x1 branch with its own BatchNorm, none after the sum
    'repvit_m1_c17': ('repvit_m1', dict(num_classes=17, embed_dim=(16, 32, 48, 64), depth=(1, 2, 2, 1))),
    # TResNet: space-to-depth stem (one 12x12 stride-4 convolution here), leaky ReLUs, blur-pool anti-aliasing over
    # reflection padding, average-pool shortcuts, SE in all but the last stage (at least 64 wide)
    'tresnet_m_c17': ('tresnet_m', dict(num_classes=17, width_factor=0.25, layers=[1, 2, 1, 1])),
    # v2: bottlenecks in every stage
    'tresnet_v2_l_c17': ('tresnet_v2_l', dict(num_classes=17, width_factor=0.25, layers=[1, 1, 2, 1])),
    # nfnet.py, narrowed through NfCfg: scaled weight-standardised convolutions (no BatchNorm), the blocks'
    # alpha / beta / gamma scalars, the SE's gain of 2. NF-RegNet: SE between the 3x3 and the last 1x1, SiLU
    'nf_regnet_b0_c17': ('nf_regnet_b0', dict(num_classes=17, width_factor=0.5)),
    # NF-SE-ResNet: 7x7 stem and max pool, SE after the last 1x1 (attn_last), ReLU
    'nf_seresnet26_c17': ('nf_seresnet26', dict(num_classes=17, width_factor=0.25)),
    # DeepMind's NFNet port: TF "SAME" padding, gamma in the activations (GELU), skip-init gains, the 4-conv stem
    'dm_nfnet_f0_c17': ('dm_nfnet_f0', dict(num_classes=17, width_factor=0.25, group_size=16)),
    # cspnet.py (full width: its config is dataclasses that model_args cannot narrow). CS3-SE-DarkNet-L: cross stages
    # (channels split in halves, blocks on one, a 1x1 mixing them), dark blocks with the SE between 1x1 and 3x3 (SiLU)
    'cs3sedarknet_l_c17': ('cs3sedarknet_l', dict(num_classes=17)),
    # CSP stages (blocks on the second half, their own transition) of bottlenecks with grouped 3x3s (2 and 1
    # channels per group)
    'cs3sedarknet_xdw_c17': ('cs3sedarknet_xdw', dict(num_classes=17)),
    # DarkNet stages (a strided 3x3, then blocks on all channels), leaky ReLUs (in the SE too), a stride-1 stem; on a
    # 97 x 113 input, as full width it is 21 M parameters
    'sedarknet21_c17': ('sedarknet21', dict(num_classes=17)),
})
LARGE = {
    # issue 19's full-size checks beside regnety_040 and efficientnetv2_rw_t (FULL): ReXNet and ResNet-RS at full size
    'rexnet_100': None, 'resnetrs50': None,
    'seresnet101': None, 'seresnext101_32x4d': None, 'seresnet152': None, 'seresnet152d': None,
    'legacy_seresnet101': None, 'legacy_seresnet152': None, 'legacy_seresnext101_32x4d': None,
}
# name -> torchvision architecture (weights=None, 1000 classes); converted by tools/convert_torchvision.py.
TORCHVISION = {f'tv_{arch}': arch for arch in (
    'mobilenet_v3_large', 'mobilenet_v3_small', 'efficientnet_b0', 'efficientnet_b1', 'efficientnet_b2',
    'efficientnet_b3', 'efficientnet_v2_s', 'regnet_y_400mf')}


class Case(NamedTuple):
    source: str  # 'timm' or 'torchvision': the library that builds the model and computes the expected outputs
    arch: str  # that library's architecture name
    args: dict  # its constructor's args
    input_hw: tuple  # height, width


def input_hw(arch):
    # TResNet's space-to-depth stem needs multiples of 4.
    resnets = ('resnet', 'seresnet', 'resnext', 'seresnext', 'legacy_', 'senet', 'tresnet')
    return RESNET_HW if arch.startswith(resnets) else MBCONV_HW


def all_cases(large):
    specs = {**TINY, **FAMILIES,
             **{name: spec or (name, {}) for name, spec in {**FULL, **(LARGE if large else {})}.items()}}
    cases = {name: Case('timm', arch, args, INPUT_HW.get(name) or input_hw(arch)) for name, (arch, args) in specs.items()}
    cases.update({name: Case('torchvision', arch, {}, input_hw(arch)) for name, arch in TORCHVISION.items()})
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
    """(path, gate module, channels) for every SE module, in module order."""
    from timm.layers.squeeze_excite import EffectiveSEModule
    from timm.layers.squeeze_excite import SEModule as TimmSE
    from timm.models._efficientnet_blocks import SqueezeExcite as TimmMbconvSE
    from timm.models.hgnet import EseModule as HgNetEse
    from timm.models.senet import SEModule as LegacySE
    from torchvision.ops.misc import SqueezeExcitation as TorchvisionSE
    found = []
    for path, m in model.named_modules():
        if isinstance(m, LegacySE):
            found.append((path, m.sigmoid, m.fc2.out_channels))  # legacy senet: fc1, relu, fc2, sigmoid
        elif isinstance(m, EffectiveSEModule):
            found.append((path, m.gate, m.fc.out_channels))  # timm eSE: fc, gate (hard sigmoid)
        elif isinstance(m, HgNetEse):
            found.append((path, m.sigmoid, m.conv.out_channels))  # PP-HGNet's eSE: conv, sigmoid
        elif isinstance(m, TimmSE):
            found.append((path, m.gate, m.fc2.out_channels))  # timm: fc1, bn (Identity), act, fc2, gate
        elif isinstance(m, TimmMbconvSE):  # timm MobileNetV3 / EfficientNet: conv_reduce, act1, conv_expand, gate
            found.append((path, m.gate, m.conv_expand.out_channels))
        elif isinstance(m, TorchvisionSE):  # torchvision: avgpool, fc1, activation, fc2, scale_activation
            found.append((path, m.scale_activation, m.fc2.out_channels))
        elif 'SEModule' in type(m).__name__ or 'Excit' in type(m).__name__:  # a variant this script misses
            raise AssertionError(f'unexpected SE-like module {path}: {type(m)}')
    return found


def randomise(model, seed, calib):
    import torch
    from torch import nn
    g = torch.Generator().manual_seed(seed)
    n_bn = 0
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):  # 1d: RepViT's NormLinear head
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                n_bn += 1
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                raise AssertionError(f'unexpected norm {type(m)}')

        # NFNet: the scaled weight-standardised convolutions' gains (timm zero-inits the last one of each block)
        # and the blocks' skip-init gains (zero-init too) are drawn like BatchNorm weights.
        for m in model.modules():
            if isinstance(getattr(m, 'gain', None), nn.Parameter):
                m.gain.copy_(torch.rand(m.gain.shape, generator=g) + 0.5)
            if isinstance(getattr(m, 'skipinit_gain', None), nn.Parameter):
                m.skipinit_gain.copy_(torch.rand((), generator=g) + 0.5)

        # One calibration pass; each conv/linear rescales itself when it runs, so later layers see the
        # already rescaled activations (sequential LSUV in a single forward). A weight-standardised conv
        # rescales its gain (its weight's scale is standardised away).
        def rescale(module, _inputs, output):
            rms = output.pow(2).mean().sqrt().item()
            assert rms > 0 and rms == rms, f'dead layer {module}'
            if isinstance(getattr(module, 'gain', None), nn.Parameter):
                module.gain.div_(rms)
            else:
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


def build_model(case):
    """The case's model as its library builds it (the init draws from the global generator)."""
    if case.source == 'timm':
        import timm
        return timm.create_model(case.arch, pretrained=False, **case.args)
    import torchvision
    return torchvision.models.get_model(case.arch, weights=None, **case.args)


def save_timm(name, case, model, x, logits, folder):
    """save_for_hf the model (and for F16_CASES an f16 copy in folder/model_f16), check the reload; returns
    the f16 copy's logits error relative to max |logit|, or None."""
    import copy
    import torch
    import timm
    from timm.models import save_for_hf
    model_args = dict(case.args) or None
    save_for_hf(model, folder, safe_serialization=True, model_args=model_args)
    # Round trip: what a user would do with the shared folder must give back the same logits.
    with torch.no_grad():
        again = timm.create_model(f'local-dir:{folder}', pretrained=True).eval()(x)
    assert torch.equal(again, logits), f'local-dir reload differs: {(again - logits).abs().max().item()}'
    if name not in F16_CASES:
        return None
    save_for_hf(copy.deepcopy(model).half(), folder / 'model_f16', safe_serialization=True, model_args=model_args)
    with torch.no_grad():
        m16 = timm.create_model(f'local-dir:{folder / "model_f16"}', pretrained=True).eval().float()
        return ((m16(x) - logits).abs().max() / logits.abs().max()).item()


def save_converted(arch, model, folder):
    """tools/convert_torchvision.py on the torchvision model's state dict, passed through a .pth as a user's
    would be; returns the converter's self-check numbers (it checks the folder against torchvision)."""
    import tempfile
    import torch
    from convert_torchvision import convert
    with tempfile.TemporaryDirectory() as d:
        pth = Path(d) / f'{arch}.pth'
        torch.save(model.state_dict(), pth)
        return convert(arch, torch.load(pth, map_location='cpu', weights_only=True), folder)


def saturated_fraction(gates):
    return ((gates < 1e-3) | (gates > 1 - 1e-3)).float().mean().item()


def make_case(name, case, out_dir):
    import torch
    import timm
    import torchvision
    from safetensors.torch import save_file
    from torch import nn

    t0 = time.time()
    seed = zlib.crc32(name.encode())
    torch.manual_seed(seed)  # the libraries' own init draws from the global generator
    model = build_model(case)
    model.eval().float()
    in_chans = case.args.get('in_chans', 3)
    num_classes = case.args.get('num_classes', 1000)
    shape = (1, in_chans, *case.input_hw)
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

    handles = [gate.register_forward_hook(capture(path)) for path, gate, _channels in ses]
    with torch.no_grad():
        logits = model(x).contiguous()
    for h in handles:
        h.remove()
    assert len(gates) == len(ses), f'{len(gates)} gates for {len(ses)} SE modules'
    for path, _gate, channels in ses:
        assert gates[f'gate/{path}'].numel() == channels, f'{path}: {gates[f"gate/{path}"].numel()} != {channels}'

    assert logits.dtype == torch.float32 and logits.shape == (1, num_classes), logits.shape
    assert torch.isfinite(logits).all(), 'non-finite logits'
    assert logits.std().item() > 1e-3, f'logits too flat: std {logits.std().item()}'
    if gates:
        allg = torch.cat(list(gates.values()))
        assert torch.isfinite(allg).all()
        assert allg.std().item() > 0.02, f'gates all ~{allg.mean().item():.3f}'
        # Hard-sigmoid gates (MobileNetV3) are exactly 0 or 1 wherever |input| >= 3: fine, and a case worth
        # testing. Only sigmoid gates must stay clear of the rails.
        sigmoid = [gates[f'gate/{path}'] for path, gate, _channels in ses if not isinstance(gate, nn.Hardsigmoid)]
        if sigmoid:
            saturated = saturated_fraction(torch.cat(sigmoid))
            assert saturated < 0.25, f'{saturated:.0%} of sigmoid gates saturated'
        per_module_std = [g.std().item() for g in gates.values()]
        gate_stats = dict(min=allg.min().item(), mean=allg.mean().item(), max=allg.max().item(),
                          std=allg.std().item(), saturated=saturated_fraction(allg),
                          exact_0_or_1=((allg == 0) | (allg == 1)).float().mean().item(),
                          min_module_std=min(per_module_std))
    else:
        gate_stats = None

    case_dir = out_dir / name
    tmp = out_dir / f'{name}.tmp'
    shutil.rmtree(tmp, ignore_errors=True)
    info = dict(case=name, architecture=case.arch, input_seed=INPUT_SEED, timm=timm.__version__,
                torch=torch.__version__)
    if case.source == 'timm':
        d16 = save_timm(name, case, model, x, logits, tmp)
        extra = {} if d16 is None else {'f16_logits_rel_err': d16}
    else:
        extra = {'conversion': save_converted(case.arch, model, tmp)}
        info.update(source=case.source, torchvision=torchvision.__version__)
    expected = {'input': x.contiguous(), 'logits': logits, **gates}
    # One metadata key: safetensors writes several in random order, and the bytes should be reproducible.
    save_file(expected, str(tmp / 'expected.safetensors'), metadata={'fixture': json.dumps(info, sort_keys=True)})

    shutil.rmtree(case_dir, ignore_errors=True)
    tmp.rename(case_dir)
    entry = dict(
        source=case.source,
        architecture=case.arch,
        model_args={k: list(v) if isinstance(v, tuple) else v for k, v in case.args.items()},
        input_shape=list(shape),
        num_classes=num_classes,
        num_gates=len(gates),
        gate_names=list(gates),
        param_count=sum(p.numel() for p in model.parameters()),
        batchnorms=n_bn,
        rescaled_layers=n_lin,
        seed=seed,
        # Deeper copies of architectures the default set has: tests/gpu_parity.rs leaves them to the CPU test.
        large=name in LARGE,
        logits_abs_max=logits.abs().max().item(),
        logits_std=logits.std().item(),
        gate_stats=gate_stats,
        files=case_files(name),
        bytes=sum(f.stat().st_size for f in case_dir.rglob('*') if f.is_file()),
        **extra,
    )  # no timings in here: the manifest is as reproducible as the tensors
    gs = (f'gates n={len(gates)} min/mean/max {gate_stats["min"]:.3f}/{gate_stats["mean"]:.3f}/'
          f'{gate_stats["max"]:.3f}, exactly 0 or 1 {gate_stats["exact_0_or_1"]:.1%}' if gate_stats else 'no gates')
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
    import torchvision
    torch.set_num_threads(2)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest.setdefault('cases', {})
    manifest.update(
        timm_version=timm.__version__, torch_version=torch.__version__, torchvision_version=torchvision.__version__,
        input_seed=INPUT_SEED,
        tolerances=dict(logits_rel=1e-4, gates_abs=1e-4),
        generator='tools/make_fixtures.py')
    t0 = time.time()
    for name, case in selected.items():
        manifest['cases'][name] = make_case(name, case, out_dir)
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
