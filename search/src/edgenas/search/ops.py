"""Layers shared by the static network and the elastic supernet, plus the elastic (sliced) ops.

Both networks are built from the same modules, so they share one state_dict key layout;
the supernet's tensors have the maximum shapes and it runs on prefix slices of them
(first-N channels, centre-cropped depthwise kernels), as AlphaNet / AttentiveNAS do.
Activations are written with export-friendly ops: swish = x * sigmoid(x), hard-sigmoid = HardSigmoid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` to the nearest multiple of ``divisor``, never more than 10 % below ``v`` (MobileNet rule)."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def swish(x: Tensor) -> Tensor:
    return x * torch.sigmoid(x)


def hard_sigmoid(x: Tensor) -> Tensor:
    return F.hardsigmoid(x)  # relu6(x + 3) / 6, exported as one HardSigmoid node


class Swish(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return swish(x)


class ConvBn(nn.Module):
    """k x k conv (no bias) + BN, optionally + swish. Keys: ``conv.weight``, ``bn.*``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = act

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return swish(x) if self.act else x


class SqueezeExcite(nn.Module):
    """Global mean, 1x1 conv (bias) + ReLU, 1x1 conv (bias) + hard-sigmoid, multiply."""

    def __init__(self, channels: int, mid: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(channels, mid, 1, bias=True)
        self.expand = nn.Conv2d(mid, channels, 1, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        s = F.adaptive_avg_pool2d(x, 1)
        return x * hard_sigmoid(self.expand(F.relu(self.reduce(s))))


def pool_padding(size: int) -> int:
    """AlphaNet's residual avg-pool pads by 1 when the map is odd, so it matches the strided conv."""
    return size % 2


# ---- elastic ops: run a max-shaped module on a slice of its weights ---------------------------
def centre_crop(w: Tensor, k: int) -> Tensor:
    big = w.shape[-1]
    if k == big:
        return w
    start = (big - k) // 2
    return w[..., start:start + k, start:start + k]


def elastic_conv(conv: nn.Conv2d, x: Tensor, c_out: int, kernel: int | None = None, stride: int = 1,
                 depthwise: bool = False) -> Tensor:
    c_in = x.shape[1]
    w = conv.weight[:c_out] if depthwise else conv.weight[:c_out, :c_in]
    k = kernel or w.shape[-1]
    w = centre_crop(w, k)
    b = conv.bias[:c_out] if conv.bias is not None else None
    return F.conv2d(x, w, b, stride, k // 2, 1, c_out if depthwise else 1)


def elastic_bn(bn: nn.BatchNorm2d, x: Tensor) -> Tensor:
    """BatchNorm on the first C channels, in train mode (batch stats, updating the sliced running
    stats in place, cumulative when momentum is None) and in eval mode (stored stats)."""
    c = x.shape[1]
    assert bn.running_mean is not None and bn.running_var is not None
    momentum = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        if bn.momentum is None:
            momentum = 1.0 / float(bn.num_batches_tracked)
    return F.batch_norm(x, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c],
                        bn.training, momentum, bn.eps)


def elastic_conv_bn(m: ConvBn, x: Tensor, c_out: int, kernel: int | None = None, stride: int = 1,
                    depthwise: bool = False) -> Tensor:
    x = elastic_bn(m.bn, elastic_conv(m.conv, x, c_out, kernel, stride, depthwise))
    return swish(x) if m.act else x


def elastic_se(m: SqueezeExcite, x: Tensor, mid: int) -> Tensor:
    s = F.adaptive_avg_pool2d(x, 1)
    s = F.relu(elastic_conv(m.reduce, s, mid))
    return x * hard_sigmoid(elastic_conv(m.expand, s, x.shape[1]))
