#!/usr/bin/env python3
"""Reference fixtures for the graph executor: SE networks the old fixed template could not hold.

    .venv/bin/python tools/make_graph_fixtures.py tests/fixtures/graphs

Each case is a small PyTorch module with random weights and randomised BatchNorm, run in eval mode
on a batch of two N(0, 1) images of 3 x 20 x 24. Per case, OUT_DIR/<case>/:
    weights.safetensors    the module's state_dict (f32; num_batches_tracked dropped)
    expected.safetensors   input [2, 3, 20, 24], logits [2, 5], gate/<SE module path> [2, C]
tests/graph_parity.rs builds the same graph node by node with engine::GraphBuilder and checks it on
the CPU and the GPU against these (logits 1e-4 relative, gates 1e-4 absolute).

Cases:
    se_after_concat   two conv branches concatenated, then an SE on the concatenation
    se_bn_excitation  an SE whose first FC (a bias-free 1x1 conv) is followed by BatchNorm
    single_conv_se    an "effective SE" (CenterMask / timm's EffectiveSEModule): one FC, hard sigmoid
    three_readers     one value read by three nodes: a conv branch with SE, a 1x1 projection, the sum
    mixed_ops         asymmetric padding, ReLU6, a channel split, tanh, a dilated depthwise
                      convolution, average pooling that counts the padding, GELU, a concat, a
                      dilated convolution, a channel shuffle, an SE gated by Paddle's hard sigmoid
                      clip(0.2 x + 0.5, 0, 1), a dropout, and a softmax at the end ("logits" are
                      probabilities)
The committed copies are regenerated on purpose (torch's kernels may differ in the last bit between
processors), never as a side effect of a test.
"""
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
import torch.nn.functional as F

SEED = 1234


class ConvBnAct(nn.Module):
    def __init__(self, cin, cout, k, stride=1, act=nn.ReLU):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = act() if act else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class SqueezeExcite(nn.Module):
    """The paper's SE: mean -> 1x1 conv -> ReLU -> 1x1 conv -> sigmoid -> scale."""

    def __init__(self, channels, reduced):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, reduced, 1)
        self.act = nn.ReLU()
        self.fc2 = nn.Conv2d(reduced, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True)))))


class SeAfterConcat(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = ConvBnAct(3, 8, 3)
        self.b = ConvBnAct(3, 8, 1)
        self.se = SqueezeExcite(16, 4)
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        y = self.se(torch.cat([self.a(x), self.b(x)], 1))
        return self.head(y.mean((2, 3)))


class SeWithBn(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBnAct(3, 16, 3, stride=2, act=nn.SiLU)
        self.se = nn.Module()
        self.se.fc1 = nn.Conv2d(16, 4, 1, bias=False)
        self.se.bn = nn.BatchNorm2d(4)
        self.se.fc2 = nn.Conv2d(4, 16, 1)
        self.se.gate = nn.Sigmoid()
        self.head = nn.Linear(16, 5)

    def forward(self, x):
        y = self.stem(x)
        z = F.relu(self.se.bn(self.se.fc1(y.mean((2, 3), keepdim=True))))
        y = y * self.se.gate(self.se.fc2(z))
        return self.head(y.mean((2, 3)))


class SingleConvSe(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBnAct(3, 12, 3)
        self.se = nn.Module()
        self.se.fc = nn.Conv2d(12, 12, 1)
        self.se.gate = nn.Hardsigmoid()
        self.head = nn.Linear(12, 5)

    def forward(self, x):
        y = self.stem(x)
        y = y * self.se.gate(self.se.fc(y.mean((2, 3), keepdim=True)))
        return self.head(y.mean((2, 3)))


class ThreeReaders(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = ConvBnAct(3, 8, 3)
        self.branch = ConvBnAct(8, 8, 3)
        self.se = SqueezeExcite(8, 2)
        self.side = ConvBnAct(8, 8, 1, act=None)
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        s = self.stem(x)
        y = F.relu(self.se(self.branch(s)) + s + self.side(s))
        return self.head(y.mean((2, 3)))


class PaddleHardSigmoid(nn.Module):
    def forward(self, x):
        return torch.clamp(0.2 * x + 0.5, 0, 1)


class MixedOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.pad = nn.ZeroPad2d((0, 1, 2, 0))  # left, right, top, bottom
        self.stem = ConvBnAct(3, 12, 3, stride=2, act=nn.ReLU6)
        self.stem.conv.padding = (0, 0)
        self.a = ConvBnAct(4, 4, 1, act=nn.Tanh)
        self.dw = nn.Conv2d(8, 8, 3, padding=2, dilation=2, groups=8)
        self.pool = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=True)
        self.dilated = nn.Conv2d(12, 12, 3, padding=3, dilation=3)
        self.se = nn.Module()
        self.se.fc1 = nn.Conv2d(12, 4, 1)
        self.se.fc2 = nn.Conv2d(4, 12, 1)
        self.se.gate = PaddleHardSigmoid()
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(12, 5)

    def forward(self, x):
        s = self.stem(self.pad(x))
        a, b = s[:, :4], s[:, 4:]
        y = torch.cat([self.a(a), F.gelu(self.pool(self.dw(b)))], 1)
        y = self.dilated(y)
        y = y.view(2, 3, 4, *y.shape[2:]).transpose(1, 2).reshape(y.shape)  # channel shuffle
        z = F.relu(self.se.fc1(y.mean((2, 3), keepdim=True)))
        y = y * self.se.gate(self.se.fc2(z))
        return torch.softmax(self.head(self.drop(y.mean((2, 3)))), 1)


CASES = {
    "se_after_concat": SeAfterConcat,
    "se_bn_excitation": SeWithBn,
    "single_conv_se": SingleConvSe,
    "three_readers": ThreeReaders,
    "mixed_ops": MixedOps,
}


def randomise(model):
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.normal_(0, 0.1)


def main(out_dir):
    for name, make in CASES.items():
        torch.manual_seed(SEED)
        model = make()
        randomise(model)
        model.eval()
        gates = {}
        for path, module in model.named_modules():
            if path.endswith("gate"):
                block = path.rsplit(".", 1)[0]
                module.register_forward_hook(
                    lambda m, i, o, block=block: gates.__setitem__(block, o.flatten(1).contiguous())
                )
        x = torch.randn(2, 3, 20, 24)
        with torch.no_grad():
            logits = model(x)
        case = Path(out_dir) / name
        case.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
        save_file(state, case / "weights.safetensors")
        expected = {"input": x, "logits": logits}
        expected.update({f"gate/{block}": g for block, g in gates.items()})
        save_file(expected, case / "expected.safetensors")
        print(f"{name}: {sum(v.numel() for v in state.values())} parameters, gates {sorted(gates)}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/graphs")
