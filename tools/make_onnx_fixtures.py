#!/usr/bin/env python3
"""ONNX fixtures for tests/onnx_parity.rs: SE networks as ONNX files, with ONNX Runtime's outputs.

    .venv/bin/python tools/make_onnx_fixtures.py tests/fixtures/onnx    # the committed set
    .venv/bin/python tools/make_onnx_fixtures.py DIR --zoo [--check]    # exported models (cached)

The committed set (small, regenerated on purpose only):
    <case>/model.onnx            written with onnx.helper, or exported from a tools/make_graph_fixtures.py
                                 module by torch.onnx.export (TorchScript, opset 13: torch_<case>)
    <case>/expected.safetensors  input [1, 3, H, W] (NCHW even where the file takes NHWC), N(0, 1);
                                 logits [1, K]; gate/<SE name> [1, C]: ONNX Runtime's values
    <case>/model.onnx.data       external_data only: its initializers (bn_excitation's)
    <case>/case.json             {"se_blocks": [names, in graph order], "probabilities": bool,
                                  "input_size": [H, W] where the file leaves it open,
                                  "channel_order": "bgr" for a model that takes B, G, R}
    bad/<name>.onnx              files SE Lens must refuse; bad/expected.json maps each to a part of
                                 its message
Helper cases: Paddle style (opset 11, Constant nodes, HardSigmoid 0.2/0.5, Clip-decomposed hard
swish and hard sigmoid, ReduceMean with attribute axes, a Softmax at the end); Keras/tf2onnx style
(NHWC input, Transposes, ReduceMean over H and W of an NHWC value, MatMul + Add excitation, the
gate reshaped to [1, 1, 1, C]); BatchNorm inside the excitation; single-conv SE (HardSigmoid 1/6,
and a Relu6-based gate); a Gemm excitation behind Flatten, its gate reshaped by a shape-computing
subgraph; decoys with no SE block (SiLU; a gate computed from another tensor).
Small torch networks exported by both exporters (torch_cases): timm's SEModule(add_maxpool=True)
and CBAM's channel attention (a max squeeze beside the mean), and GELU in its erf and tanh forms
(written out of Erf or Tanh, Pow and arithmetic before opset 20; a Gelu node at 20), and
nearest upsampling inside the network (Resize; opsets 11, 13 and 18), and TResNet's leaky ReLUs and
blur pool (Pad in reflect mode).

The zoo (--zoo; scripts/fixtures.sh caches it by this file's hash): timm seresnet18,
seresnext26d_32x4d, mobilenetv3_small_100, efficientnet_b0 and torchvision regnet_y_400mf, random
weights with randomised BatchNorm (tools/make_fixtures.py's randomise), exported by both torch
exporters (TorchScript: dynamo=False, at opsets 13 and 18; dynamo, at 18 and 21), input 1 x 3 x 128 x 128. The SE
names are the SE modules' paths in the model (layer1.0.se); each gate is found in the file as the
input of the SE module's Mul that its own module computed.

Every reference comes from onnxruntime (CPU, all optimisations off) with the gates made extra graph
outputs. Tolerances the Rust test uses: logits 1e-4 relative to the largest, gates 1e-4 absolute.
"""
import argparse
import ast
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 1234
HW = (20, 24)
ZOO_HW = (128, 128)
ZOO = {
    'seresnet18': 'timm',
    'seresnext26d_32x4d': 'timm',
    'mobilenetv3_small_100': 'timm',
    'efficientnet_b0': 'timm',
    'regnet_y_400mf': 'torchvision',
}
# torch 2.15's dynamo exporter writes opset 18 and later only (asked for 13, it warns and keeps 18)
ZOO_EXPORTS = [('ts', 13), ('ts', 18), ('dynamo', 18), ('dynamo', 21)]


# ---------------------------------------------------------------------------------------------
# Graphs written node by node
# ---------------------------------------------------------------------------------------------

class Builder:
    """A graph under construction: random initializers, nodes named as an exporter would."""

    def __init__(self, opset, naming):
        self.nodes, self.inits, self.opset = [], [], opset
        self.rng = np.random.default_rng(SEED)
        self.naming = naming  # (op, index) -> node name
        self.count = 0

    def node(self, op, inputs, name=None, **attrs):
        self.count += 1
        name = name or self.naming(op, self.count)
        out = f'{name}:0'
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def init(self, array, name=None):
        self.count += 1
        name = name or f'w{self.count}'
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def constant(self, array):
        """A Constant node (how opset-11 exporters such as paddle2onnx write constants)."""
        self.count += 1
        name = f'const{self.count}'
        self.nodes.append(helper.make_node('Constant', [], [name], name=f'{name}_node',
                                           value=numpy_helper.from_array(np.asarray(array))))
        return name

    def weight(self, *shape, fan_in=None):
        fan_in = fan_in or int(np.prod(shape[1:]))
        return self.init((self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32))

    def small(self, *shape):
        return self.init((self.rng.standard_normal(shape) * 0.1).astype(np.float32))

    def conv(self, x, cin, cout, k, stride=1, group=1, bias=True, name=None, **attrs):
        pads = attrs.pop('pads', [k // 2] * 4) if 'auto_pad' not in attrs else None
        inputs = [x, self.weight(cout, cin // group, k, k)] + ([self.small(cout)] if bias else [])
        extra = dict(pads=pads) if pads is not None else {}
        return self.node('Conv', inputs, name, kernel_shape=[k, k], strides=[stride, stride],
                         group=group, **extra, **attrs)

    def bn(self, x, c, name=None):
        r = self.rng
        scale = self.init((r.random(c) + 0.5).astype(np.float32))
        bias = self.init((r.standard_normal(c) * 0.1).astype(np.float32))
        mean = self.init((r.standard_normal(c) * 0.1).astype(np.float32))
        var = self.init((r.random(c) + 0.5).astype(np.float32))
        return self.node('BatchNormalization', [x, scale, bias, mean, var], name, epsilon=1e-5)

    def model(self, x_info, out, out_channels, out_name='logits'):
        y = helper.make_tensor_value_info(out_name, TensorProto.FLOAT, [1, out_channels])
        self.nodes.append(helper.make_node('Identity', [out], [out_name], name='output'))
        graph = helper.make_graph(self.nodes, 'se_lens_fixture', [x_info], [y], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', self.opset)],
                                  producer_name='se-lens tools/make_onnx_fixtures.py')
        model.ir_version = 7 if self.opset <= 13 else 8
        onnx.checker.check_model(model, full_check=True)
        return model


def image(layout='nchw', open_size=False):
    h, w = ('height', 'width') if open_size else HW
    shape = [1, 3, h, w] if layout == 'nchw' else [1, h, w, 3]
    return helper.make_tensor_value_info('image', TensorProto.FLOAT, shape)


def paddle_style():
    """PP-LCNet-like: Paddle's own names, opset 11, constants as nodes."""
    b = Builder(11, lambda op, i: f'p2o.{op}.{i}')
    three, six, zero = b.constant(np.float32(3)), b.constant(np.float32(6)), b.constant(np.float32(0))

    def hard_swish(x):  # x * clip(x + 3, 0, 6) / 6
        return b.node('Div', [b.node('Mul', [x, b.node('Clip', [b.node('Add', [x, three]), zero, six])]), six])

    x = hard_swish(b.bn(b.conv('image', 3, 16, 3, stride=2, bias=False), 16))
    x = hard_swish(b.bn(b.conv(x, 16, 16, 3, group=16, bias=False), 16))
    # SE 1: GlobalAveragePool, conv, relu, conv, HardSigmoid(0.2, 0.5): gate named by its node.
    s = b.node('Relu', [b.conv(b.node('GlobalAveragePool', [x]), 16, 4, 1)])
    gate1 = b.node('HardSigmoid', [b.conv(s, 4, 16, 1)], name='p2o.HardSigmoid.se1', alpha=0.2, beta=0.5)
    x = b.node('Mul', [x, gate1])
    x = b.node('Relu', [b.bn(b.conv(x, 16, 24, 1, bias=False), 24)])
    # SE 2: ReduceMean (axes an attribute at opset 11), gate clip(v + 3, 0, 6) / 6.
    s = b.node('Relu', [b.conv(b.node('ReduceMean', [x], axes=[2, 3], keepdims=1), 24, 6, 1)])
    v = b.conv(s, 6, 24, 1)
    gate2 = b.node('Div', [b.node('Clip', [b.node('Add', [v, three]), zero, six]), six], name='p2o.Div.se2')
    x = b.node('Mul', [gate2, x])  # the gate first
    x = b.node('GlobalAveragePool', [x])
    x = b.node('Reshape', [x, b.constant(np.array([-1, 24], np.int64))])
    x = b.node('Add', [b.node('MatMul', [x, b.weight(24, 10, fan_in=24)]), b.small(10)])
    x = b.node('Softmax', [x], axis=1)
    return b.model(image(), x, 10), ['p2o.HardSigmoid.se1', 'p2o.Div.se2'], [gate1, gate2], True


def keras_style():
    """tf2onnx-like: NHWC input, Transposes around the convolutions, Dense layers as MatMul + Add."""
    b = Builder(13, lambda op, i: f'model/{op.lower()}_{i}/{op}')
    x = b.node('Transpose', ['image'], perm=[0, 3, 1, 2])
    x = b.node('Relu', [b.conv(x, 3, 16, 3, stride=2, auto_pad='SAME_UPPER')])
    x = b.node('Transpose', [x], perm=[0, 2, 3, 1])  # NHWC from here on
    s = b.node('ReduceMean', [x], axes=[1, 2], keepdims=0)  # [1, 16]
    s = b.node('Relu', [b.node('Add', [b.node('MatMul', [s, b.weight(16, 4, fan_in=16)]), b.small(4)])])
    s = b.node('Add', [b.node('MatMul', [s, b.weight(4, 16, fan_in=4)]), b.small(16)])
    gate = b.node('Sigmoid', [s], name='model/se/Sigmoid')
    g = b.node('Reshape', [gate, b.init(np.array([-1, 1, 1, 16], np.int64))])
    x = b.node('Mul', [x, g])
    x = b.node('Transpose', [x], perm=[0, 3, 1, 2])
    x = b.node('Relu', [b.conv(x, 16, 16, 3, auto_pad='SAME_UPPER')])
    x = b.node('Transpose', [x], perm=[0, 2, 3, 1])
    x = b.node('ReduceMean', [x], axes=[1, 2], keepdims=0)
    x = b.node('Add', [b.node('MatMul', [x, b.weight(16, 7, fan_in=16)]), b.small(7)])
    return b.model(image('nhwc'), x, 7), ['model/se/Sigmoid'], [gate], False


def torch_named(op, i):
    return f'/{op}_{i}'


def bn_excitation():
    """BatchNorm between the excitation's FCs; TorchScript-style scoped names."""
    b = Builder(13, torch_named)
    x = b.node('Relu', [b.bn(b.conv('image', 3, 16, 3, stride=2), 16)])
    s = b.conv(b.node('GlobalAveragePool', [x]), 16, 4, 1, bias=False, name='/blocks/blocks.0/se/fc1/Conv')
    s = b.node('Relu', [b.bn(s, 4, name='/blocks/blocks.0/se/bn/BatchNormalization')])
    gate = b.node('Sigmoid', [b.conv(s, 4, 16, 1)], name='/blocks/blocks.0/se/gate/Sigmoid')
    x = b.node('Mul', [x, gate], name='/blocks/blocks.0/se/Mul')
    x = b.node('Flatten', [b.node('GlobalAveragePool', [x])])
    x = b.node('Gemm', [x, b.weight(5, 16), b.small(5)], transB=1)
    return b.model(image(), x, 5), ['blocks.0.se'], [gate], False


def single_conv_se():
    """Effective SE (one 1x1 conv, HardSigmoid 1/6), then a Relu6-based gate clip(v + 3, 0, 6) * 1/6."""
    b = Builder(13, torch_named)
    x = b.node('Relu', [b.conv('image', 3, 12, 3, pads=[0, 1, 1, 0])])
    gate1 = b.node('HardSigmoid', [b.conv(b.node('GlobalAveragePool', [x]), 12, 12, 1)],
                   name='/stage1/ese/gate/HardSigmoid', alpha=1 / 6, beta=0.5)
    x = b.node('Mul', [x, gate1], name='/stage1/ese/Mul')
    x = b.node('Relu', [b.conv(x, 12, 12, 3, stride=2)])
    s = b.node('Relu', [b.conv(b.node('ReduceMean', [x], axes=[2, 3], keepdims=1), 12, 3, 1)])
    v = b.node('Add', [b.conv(s, 3, 12, 1), b.init(np.float32(3))])
    relu6 = b.node('Clip', [v, b.init(np.float32(0)), b.init(np.float32(6))])
    gate2 = b.node('Mul', [relu6, b.init(np.float32(1 / 6))], name='/stage2/se/gate/Mul')
    x = b.node('Mul', [gate2, x], name='/stage2/se/Mul')
    x = b.node('Flatten', [b.node('GlobalAveragePool', [x])])
    x = b.node('Gemm', [x, b.weight(5, 12), b.small(5)], transB=1)
    return b.model(image(open_size=True), x, 5), ['stage1.ese', 'stage2.se'], [gate1, gate2], False


def gemm_se():
    """torchvision-style SE on a vector: Flatten, Gemm, Relu, Gemm, Sigmoid, the gate reshaped to
    [N, C, 1, 1] by the shape arithmetic TorchScript writes for x.view(b, c, 1, 1)."""
    b = Builder(13, torch_named)
    x = b.node('Relu', [b.bn(b.conv('image', 3, 16, 3, stride=2), 16)])
    p = '/features/features.3/se'
    s = b.node('Flatten', [b.node('GlobalAveragePool', [x], name=f'{p}/GlobalAveragePool')], axis=1)
    s = b.node('Relu', [b.node('Gemm', [s, b.weight(4, 16), b.small(4)], transB=1)])
    gate = b.node('Sigmoid', [b.node('Gemm', [s, b.weight(16, 4), b.small(16)], transB=1)],
                  name=f'{p}/Sigmoid')
    batch = b.node('Unsqueeze', [b.node('Gather', [b.node('Shape', [x]), b.init(np.int64(0))], axis=0),
                                 b.init(np.array([0], np.int64))])
    shape = b.node('Concat', [batch, b.init(np.array([16, 1, 1], np.int64))], axis=0)
    x = b.node('Mul', [x, b.node('Reshape', [gate, shape])], name=f'{p}/Mul')
    x = b.node('MaxPool', [x], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)
    x = b.node('Flatten', [b.node('GlobalAveragePool', [x])])
    x = b.node('Gemm', [x, b.weight(6, 16), b.small(6)], transB=1)
    return b.model(image(), x, 6), ['features.3.se'], [gate], False


def resize_half_pixel():
    """Resize by 2 x 3 in half-pixel coordinates with rounding (opset 18, scales for the planes'
    axes only) and by sizes with round_prefer_ceil (opset 13's form, as input 3), around an SE."""
    b = Builder(18, torch_named)
    x = b.node('Relu', [b.conv('image', 3, 8, 3, stride=2)])
    x = b.node('Resize', [x, '', b.init(np.array([2.0, 3.0], np.float32))], mode='nearest', axes=[2, 3],
               coordinate_transformation_mode='half_pixel', nearest_mode='round_prefer_floor')
    p = '/blocks/blocks.0/se'
    s = b.node('ReduceMean', [x, b.init(np.array([2, 3], np.int64))], name=f'{p}/ReduceMean')
    s = b.node('Relu', [b.conv(s, 8, 4, 1)])
    gate = b.node('Sigmoid', [b.conv(s, 4, 8, 1)], name=f'{p}/Sigmoid')
    x = b.node('Mul', [x, gate], name=f'{p}/Mul')
    x = b.node('Resize', [x, '', '', b.init(np.array([1, 8, 40, 36], np.int64))], mode='nearest',
               coordinate_transformation_mode='pytorch_half_pixel', nearest_mode='round_prefer_ceil')
    x = b.node('Flatten', [b.node('GlobalMaxPool', [b.conv(x, 8, 8, 3, stride=2)])])
    x = b.node('Gemm', [x, b.weight(5, 8), b.small(5)], transB=1)
    return b.model(image(), x, 5), ['blocks.0.se'], [gate], False


def decoy_silu():
    """x * sigmoid(x) is SiLU, not an SE block."""
    b = Builder(13, torch_named)
    x = b.conv('image', 3, 8, 3)
    x = b.node('Mul', [x, b.node('Sigmoid', [x])])
    x = b.node('Flatten', [b.node('GlobalAveragePool', [x])])
    x = b.node('Gemm', [x, b.weight(4, 8), b.small(4)], transB=1)
    return b.model(image(), x, 4), [], [], False


def decoy_other_tensor():
    """A gate shaped like an SE gate, but computed from another tensor than the one it scales."""
    b = Builder(13, torch_named)
    y = b.node('Relu', [b.conv('image', 3, 8, 3)])
    x = b.node('Relu', [b.conv(y, 8, 8, 3)])
    s = b.node('Relu', [b.conv(b.node('GlobalAveragePool', [y]), 8, 2, 1)])
    x = b.node('Mul', [x, b.node('Sigmoid', [b.conv(s, 2, 8, 1)])])
    x = b.node('Flatten', [b.node('GlobalAveragePool', [x])])
    x = b.node('Gemm', [x, b.weight(4, 8), b.small(4)], transB=1)
    return b.model(image(), x, 4), [], [], False


HELPER_CASES = {
    'paddle_style': paddle_style,
    'keras_nhwc': keras_style,
    'bn_excitation': bn_excitation,
    'single_conv_se': single_conv_se,
    'gemm_se': gemm_se,
    'resize_half_pixel': resize_half_pixel,
    'decoy_silu': decoy_silu,
    'decoy_other_tensor': decoy_other_tensor,
}

# tools/make_graph_fixtures.py modules whose SE module does its own multiply, exported by
# TorchScript (the others multiply in their parent; the helper cases above cover those forms)
GRAPH_CASES = ['se_after_concat', 'three_readers']


# ---------------------------------------------------------------------------------------------
# Small torch networks for forms only a file can hold (the engine's builders never make them)
# ---------------------------------------------------------------------------------------------

def torch_cases():
    """name -> (module, exporter, opset)."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from timm.layers import BlurPool2d, SEModule
    from timm.layers.cbam import ChannelAttn
    sys.path.insert(0, str(Path(__file__).parent))
    import make_graph_fixtures as g

    class Block(nn.Module):
        def __init__(self, cin, cout, stride, se, act=nn.ReLU):
            super().__init__()
            self.conv = g.ConvBnAct(cin, cout, 3, stride, act)
            self.se = se

        def forward(self, x):
            return self.se(self.conv(x))

    class Net(nn.Module):
        def __init__(self, blocks, width, act=nn.ReLU):
            super().__init__()
            self.stem = g.ConvBnAct(3, 16, 3, 2, act)
            self.blocks = nn.Sequential(*blocks)
            self.head = nn.Linear(width, 10)

        def forward(self, x):
            return self.head(self.blocks(self.stem(x)).mean((2, 3)))

    class GeluSe(nn.Module):
        """The paper's SE with GELU between its FCs."""

        def __init__(self, channels, reduced, approximate):
            super().__init__()
            self.fc1 = nn.Conv2d(channels, reduced, 1)
            self.act = nn.GELU(approximate=approximate)
            self.fc2 = nn.Conv2d(reduced, channels, 1)

        def forward(self, x):
            return x * torch.sigmoid(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))

    def max_squeeze():
        # timm's SEModule(add_maxpool=True): 0.5 * mean + 0.5 * max before the FCs; CBAM's
        # channel attention: the same FCs on the mean and on the max, summed before the gate
        return Net([Block(16, 24, 1, SEModule(24, rd_channels=8, add_maxpool=True)),
                    Block(24, 32, 2, ChannelAttn(32, rd_channels=8))], 32)

    def gelu(approximate):
        act = lambda: nn.GELU(approximate=approximate)
        return Net([Block(16, 24, 1, GeluSe(24, 8, approximate), act)], 24, act)

    class Upsampled(nn.Module):
        """SE, then nearest upsampling by 2 x 2 and (later) by 1 x 2."""

        def __init__(self):
            super().__init__()
            self.block = Block(16, 24, 1, SEModule(24, rd_channels=8))
            self.up = nn.Upsample(scale_factor=2, mode='nearest')
            self.conv = g.ConvBnAct(24, 24, 3, 2)

        def forward(self, x):
            x = self.conv(self.up(self.block(x)))
            return F.interpolate(x, scale_factor=(1, 2), mode='nearest')

    def upsample():
        return Net([Upsampled()], 24)

    def tresnet_ops():
        # TResNet's: leaky ReLUs (slope 0.1 here) after the convolutions and inside the SE, and a
        # blur pool (reflection padding, a fixed 3x3 depthwise filter of stride 2)
        act = lambda: nn.LeakyReLU(0.1)
        se = SEModule(24, rd_channels=8, act_layer=act)
        return Net([Block(16, 24, 1, se, act), BlurPool2d(24)], 24, act)

    return {
        'torch_tresnet_ops': (tresnet_ops, 'ts', 13),
        'torch_upsample': (upsample, 'ts', 13),
        'torch_upsample_op11': (upsample, 'ts', 11),
        'torch_upsample_dynamo': (upsample, 'dynamo', 18),
        'torch_max_squeeze': (max_squeeze, 'ts', 13),
        'torch_max_squeeze_dynamo': (max_squeeze, 'dynamo', 18),
        'torch_gelu_erf': (lambda: gelu('none'), 'ts', 13),
        'torch_gelu_erf_dynamo': (lambda: gelu('none'), 'dynamo', 18),
        'torch_gelu_tanh': (lambda: gelu('tanh'), 'ts', 13),
        'torch_gelu_tanh_dynamo': (lambda: gelu('tanh'), 'dynamo', 18),
        'torch_gelu_op20': (lambda: gelu('tanh'), 'ts', 20),
    }


# ---------------------------------------------------------------------------------------------
# References
# ---------------------------------------------------------------------------------------------

def reference(model, x_nchw, gates, bgr=False):
    """ONNX Runtime's logits and gates ([1, C] each) for the NCHW (RGB) input; `bgr`: the model
    takes B, G, R, so it is fed the channels reversed."""
    import onnxruntime as ort
    model = onnx.ModelProto.FromString(model.SerializeToString())
    present = {o.name for o in model.graph.output}
    for g in gates:
        if g not in present:
            model.graph.output.append(helper.make_empty_tensor_value_info(g))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model.SerializeToString(), options, providers=['CPUExecutionProvider'])
    feed_info = session.get_inputs()[0]
    x = x_nchw[:, ::-1] if bgr else x_nchw
    if feed_info.shape[-1] == 3 and feed_info.shape[1] != 3:  # NHWC
        x = x.transpose(0, 2, 3, 1)
    outputs = session.run([model.graph.output[0].name] + list(gates), {feed_info.name: np.ascontiguousarray(x)})
    logits = outputs[0].reshape(1, -1)
    return logits, [g.reshape(1, -1) for g in outputs[1:]]


def write_case(folder, model, names, gates, probabilities, hw, extra=None, bgr=False):
    from safetensors.numpy import save_file
    folder.mkdir(parents=True, exist_ok=True)
    x = np.random.default_rng(SEED).standard_normal((1, 3, *hw)).astype(np.float32)
    logits, values = reference(model, x, gates, bgr)
    assert len(names) == len(values)
    (folder / 'model.onnx').write_bytes(model.SerializeToString())
    tensors = {'input': x, 'logits': logits}
    tensors.update({f'gate/{n}': v for n, v in zip(names, values)})
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()}, str(folder / 'expected.safetensors'))
    case = dict(se_blocks=names, probabilities=probabilities, **(extra or {}))
    (folder / 'case.json').write_text(json.dumps(case, indent=1) + '\n')
    print(f'{folder.name}: {len(model.graph.node)} nodes, SE {names}', file=sys.stderr)


def torch_module_paths(model_proto):
    """node name -> module path, as TorchScript (scoped names) or dynamo (name_scopes) wrote it.
    An independent reading of the exporters' conventions, for locating gates: src/model/onnx/names.rs
    is what SE Lens uses."""
    paths = {}
    for node in model_proto.graph.node:
        meta = {p.key: p.value for p in node.metadata_props}
        if 'pkg.torch.onnx.name_scopes' in meta:
            scopes = ast.literal_eval(meta['pkg.torch.onnx.name_scopes'])  # modules, then the node
            paths[node.name] = scopes[-2] if len(scopes) > 1 else ''
            continue
        parts = node.name.split('/')[1:-1]
        path = []
        for part in parts:
            atoms = part.split('.')
            overlap = next((m for m in range(min(len(path), len(atoms)), 0, -1)
                            if len(atoms) > 1 and path[len(path) - m:] == atoms[:m]), 0)
            path += atoms[overlap:]
        paths[node.name] = '.'.join(path)
    return paths


def gates_in_file(model_proto, se_paths):
    """For each SE module path: the Mul input its own module computed (the gate)."""
    paths = torch_module_paths(model_proto)
    producer = {o: n for n in model_proto.graph.node for o in n.output}
    inside = lambda value, p: value in producer and (paths[producer[value].name] + '.').startswith(p + '.')
    inputs = {i.name for i in model_proto.graph.input}
    computed = lambda value: value in inputs or (value in producer and producer[value].op_type != 'Constant')
    gates = []
    for p in se_paths:
        # the Mul of a value computed outside the module by one computed inside it
        muls = [n for n in model_proto.graph.node if n.op_type == 'Mul' and paths[n.name] == p]
        found = [[i for i in n.input if inside(i, p)] for n in muls
                 if all(computed(i) for i in n.input)]
        found = [f[0] for f in found if len(f) == 1]
        assert len(found) == 1, f'{p}: gate not found ({[n.name for n in muls]})'
        gates.append(found[0])
    return gates


# ---------------------------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------------------------

def make_helper_cases(out):
    for name, make in HELPER_CASES.items():
        model, names, gates, probabilities = make()
        open_size = not model.graph.input[0].type.tensor_type.shape.dim[2].HasField('dim_value')
        write_case(out / name, model, names, gates, probabilities, HW,
                   dict(input_size=list(HW)) if open_size else None)
    # bn_excitation as a model that takes B, G, R (its reference fed the image's channels reversed)
    model, names, gates, probabilities = bn_excitation()
    write_case(out / 'bgr_input', model, names, gates, probabilities, HW, dict(channel_order='bgr'), bgr=True)
    # bn_excitation with every initializer in one external data file beside it
    model, names, gates, probabilities = bn_excitation()
    write_case(out / 'external_data', model, names, gates, probabilities, HW)
    onnx.save_model(model, str(out / 'external_data' / 'model.onnx'), save_as_external_data=True,
                    all_tensors_to_one_file=True, location='model.onnx.data', size_threshold=0)


def export(module, x, path, exporter, opset):
    import torch
    kw = dict(input_names=['image'], output_names=['logits'])
    if exporter == 'ts':
        torch.onnx.export(module, (x,), str(path), dynamo=False, opset_version=opset, do_constant_folding=True, **kw)
    else:
        program = torch.onnx.export(module, (x,), dynamo=True, opset_version=opset, optimize=True,
                                    external_data=False, **kw)
        program.save(str(path))
    return onnx.load(str(path))


def make_graph_cases(out):
    import torch
    sys.path.insert(0, str(Path(__file__).parent))
    import make_graph_fixtures as g
    for name in GRAPH_CASES:
        torch.manual_seed(g.SEED)
        module = g.CASES[name]()
        g.randomise(module)
        module.eval()
        folder = out / f'torch_{name}'
        folder.mkdir(parents=True, exist_ok=True)
        x = torch.zeros(1, 3, *HW)
        model = export(module, x, folder / 'model.onnx', 'ts', 13)
        se = [p for p, _ in module.named_modules() if p.endswith('se')]
        write_case(folder, model, se, gates_in_file(model, se), False, HW)
    for name, (make, exporter, opset) in torch_cases().items():
        torch.manual_seed(g.SEED)
        module = make()
        g.randomise(module)
        module.eval()
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        with torch.no_grad():
            model = export(module, torch.zeros(1, 3, *HW), folder / 'model.onnx', exporter, opset)
        se = [p for p, _ in module.named_modules() if p.endswith('.se')]
        write_case(folder, model, se, gates_in_file(model, se), False, HW,
                   dict(exporter=exporter, opset=opset))


def bad_files(out):
    """Files SE Lens must refuse, each with a part of the message it must give."""
    bad = out / 'bad'
    bad.mkdir(parents=True, exist_ok=True)
    good, _, _, _ = bn_excitation()
    data = good.SerializeToString()
    expected = {}

    def put(name, content, message):
        (bad / name).write_bytes(content if isinstance(content, bytes) else content.SerializeToString())
        expected[name] = message

    put('truncated.onnx', data[: len(data) // 2], 'not an ONNX model')
    put('wrong_magic.onnx', b'\x89PNG\r\n\x1a\n' + bytes(range(256)) * 4, 'not an ONNX model')

    def edited(edit):
        m = onnx.ModelProto.FromString(data)
        edit(m)
        return m

    def cycle(m):  # the first node reads the last node's output
        m.graph.node[0].input[0] = m.graph.node[-1].output[0]
    put('cycle.onnx', edited(cycle), 'cycle')

    def undefined(m):
        m.graph.node[1].input[0] = 'nowhere'
    put('undefined_value.onnx', edited(undefined), "reads 'nowhere', which nothing in the file defines")

    def huge(m):
        t = m.graph.initializer[0]
        del t.dims[:]
        t.dims.extend([1_000_000, 1_000_000])
    put('huge_shape.onnx', edited(huge), '1000000')

    def short(m):
        t = m.graph.initializer[0]
        t.raw_data = t.raw_data[:40]
    put('short_initializer.onnx', edited(short), 'holds 10 value(s)')

    def unknown(m):
        m.graph.node[1].op_type = 'FancyOp'
    put('unknown_op.onnx', edited(unknown), 'FancyOp')

    def external(m):
        t = m.graph.initializer[0]
        t.ClearField('raw_data')
        t.data_location = TensorProto.EXTERNAL
        t.external_data.add(key='location', value='weights.bin')
    put('missing_external.onnx', edited(external), 'weights.bin')
    # GELU's written-out erf form with 0.6 for its 0.5: an Erf that is not part of a GELU
    gelu = onnx.load(str(out / 'torch_gelu_erf' / 'model.onnx'))
    for node in gelu.graph.node:
        value = node.attribute[0].t if node.op_type == 'Constant' else None
        if value is not None and numpy_helper.to_array(value).tolist() == 0.5:
            value.CopyFrom(numpy_helper.from_array(np.array(0.6, np.float32)))
    put('erf_not_gelu.onnx', gelu, 'is not part of a GELU')
    resize, _, _, _ = resize_half_pixel()
    for node in resize.graph.node:
        if node.op_type == 'Resize':
            next(a for a in node.attribute if a.name == 'mode').s = b'linear'
    put('resize_linear.onnx', resize, "resizes in 'linear' mode")
    (bad / 'expected.json').write_text(json.dumps(expected, indent=1) + '\n')


def zoo_case(arch, source):
    import torch
    sys.path.insert(0, str(Path(__file__).parent))
    from make_fixtures import randomise, se_modules
    torch.manual_seed(SEED)
    if source == 'timm':
        import timm
        model = timm.create_model(arch, pretrained=False, num_classes=100)
    else:
        import torchvision
        model = torchvision.models.get_model(arch, weights=None, num_classes=100)
    calib = torch.randn(1, 3, *ZOO_HW, generator=torch.Generator().manual_seed(1))
    model.eval()
    randomise(model, SEED, calib)
    return model, [p for p, _, _ in se_modules(model)]


def make_zoo(out, check):
    names = [f'{arch}-{exporter}-op{opset}' for arch in ZOO for exporter, opset in ZOO_EXPORTS]
    missing = [n for n in names if not (out / n / 'case.json').exists()]
    if check:
        sys.exit(1 if missing else 0)
    import torch
    torch.set_num_threads(2)
    for arch, source in ZOO.items():
        todo = [(e, o) for e, o in ZOO_EXPORTS if f'{arch}-{e}-op{o}' in missing]
        if not todo:
            continue
        model, se = zoo_case(arch, source)
        for exporter, opset in todo:
            folder = out / f'{arch}-{exporter}-op{opset}'
            folder.mkdir(parents=True, exist_ok=True)
            with torch.no_grad():
                proto = export(model, torch.zeros(1, 3, *ZOO_HW), folder / 'model.onnx', exporter, opset)
            (folder / 'model.onnx').unlink()  # write_case writes it again, with the reference
            write_case(folder, proto, se, gates_in_file(proto, se), False, ZOO_HW,
                       dict(architecture=arch, exporter=exporter, opset=opset))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', type=Path)
    parser.add_argument('--zoo', action='store_true', help='the exported timm/torchvision models')
    parser.add_argument('--check', action='store_true', help='exit 1 if any zoo case is missing')
    args = parser.parse_args()
    if args.zoo:
        make_zoo(args.out, args.check)
        return
    make_helper_cases(args.out)
    make_graph_cases(args.out)
    bad_files(args.out)  # after the graph cases: it edits one


if __name__ == '__main__':
    main()
