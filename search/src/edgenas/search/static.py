"""The plan of a subnet (every layer's channels, kernel, stride, feature size) and the plain
static network built from it: the deployable model that ``Supernet.extract`` returns and export writes.

Structure (AlphaNet / AttentiveNAS): stem conv+BN+swish; per stage, the first ``d`` MBConv blocks
(1x1 expand+BN+swish when t != 1, k x k depthwise+BN+swish, SE where the stage has it, 1x1 project+BN),
each with a residual (identity, or avg-pool when strided, and/or a 1x1 conv when the widths differ);
head: 1x1 conv+BN+swish to ``final_expand_ratio`` x last width, global pool, 1x1 conv (no BN, no bias)
+ swish, Linear.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from edgenas.search.arch import ArchConfig
from edgenas.search.ops import ConvBn, SqueezeExcite, make_divisible, pool_padding, swish
from edgenas.search.spaces import SearchSpace


def conv_out(size: int, kernel: int, stride: int) -> int:
    return (size + 2 * (kernel // 2) - kernel) // stride + 1


@dataclass(frozen=True)
class BlockPlan:
    stage: int
    index: int
    c_in: int
    c_out: int
    hidden: int  # depthwise channels (== c_in when there is no expand layer)
    expand: bool
    kernel: int
    stride: int
    se_mid: int  # 0: no SE
    size_in: int
    size_out: int

    @property
    def pool(self) -> bool:
        return self.stride != 1

    @property
    def shortcut_conv(self) -> bool:
        return self.c_in != self.c_out


def block_plan(stage: int, index: int, c_in: int, c_out: int, t: int, kernel: int, stride: int, se: bool,
               size_in: int) -> BlockPlan:
    hidden = make_divisible(round(c_in * t), 8) if t != 1 else c_in
    return BlockPlan(stage=stage, index=index, c_in=c_in, c_out=c_out, hidden=hidden, expand=t != 1,
                     kernel=kernel, stride=stride, se_mid=make_divisible(hidden // 4, 8) if se else 0,
                     size_in=size_in, size_out=conv_out(size_in, kernel, stride))


@dataclass(frozen=True)
class NetPlan:
    resolution: int
    stem_c: int
    stem_kernel: int
    stem_stride: int
    stem_size: int
    stages: tuple[tuple[BlockPlan, ...], ...]
    final_c: int
    head_c: int
    num_classes: int

    @property
    def blocks(self) -> tuple[BlockPlan, ...]:
        return tuple(b for st in self.stages for b in st)

    @property
    def last_c(self) -> int:
        return self.stages[-1][-1].c_out

    @property
    def last_size(self) -> int:
        return self.stages[-1][-1].size_out


def build_plan(space: SearchSpace, arch: ArchConfig, num_classes: int) -> NetPlan:
    """Every layer's shape for ``arch`` (which must lie in ``space``)."""
    space.validate(arch)
    size = conv_out(arch.resolution, space.stem_kernel, space.stem_stride)
    stem_c = c_in = arch.widths[0]
    stem_size = size
    stages = []
    for s, st in enumerate(space.stages):
        blocks = []
        for j in range(arch.depths[s]):
            b = block_plan(s, j, c_in, arch.widths[s + 1], arch.expand_ratios[s], arch.kernel_sizes[s],
                           st.stride if j == 0 else 1, st.se, size)
            blocks.append(b)
            c_in, size = b.c_out, b.size_out
        stages.append(tuple(blocks))
    return NetPlan(resolution=arch.resolution, stem_c=stem_c, stem_kernel=space.stem_kernel,
                   stem_stride=space.stem_stride, stem_size=stem_size, stages=tuple(stages),
                   final_c=c_in * space.final_expand_ratio, head_c=arch.widths[-1], num_classes=num_classes)


class MBBlock(nn.Module):
    """One MBConv block with its residual. Keys: expand.*, dw.*, se.*, project.*, shortcut.weight."""

    def __init__(self, b: BlockPlan, shortcut_conv: bool | None = None) -> None:
        super().__init__()
        self.plan = b
        self.expand = ConvBn(b.c_in, b.hidden, 1) if b.expand else None
        self.dw = ConvBn(b.hidden, b.hidden, b.kernel, b.stride, groups=b.hidden)
        self.se = SqueezeExcite(b.hidden, b.se_mid) if b.se_mid else None
        self.project = ConvBn(b.hidden, b.c_out, 1, act=False)
        has_conv = b.shortcut_conv if shortcut_conv is None else shortcut_conv
        self.shortcut = nn.Conv2d(b.c_in, b.c_out, 1, bias=False) if has_conv else None
        self.pool = nn.AvgPool2d(2, 2, padding=pool_padding(b.size_in)) if b.pool else None

    def forward(self, x: Tensor) -> Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.dw(y)
        if self.se is not None:
            y = self.se(y)
        y = self.project(y)
        res = self.pool(x) if self.pool is not None else x
        if self.shortcut is not None:
            res = self.shortcut(res)
        return y + res


class Head(nn.Module):
    """final_expand (1x1 conv+BN+swish), global pool, feature_mix (1x1 conv, no BN/bias) + swish."""

    def __init__(self, c_in: int, final_c: int, head_c: int) -> None:
        super().__init__()
        self.final_expand = ConvBn(c_in, final_c, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_mix = nn.Conv2d(final_c, head_c, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.flatten(swish(self.feature_mix(self.pool(self.final_expand(x)))), 1)


def build_layers(net: LayeredNet, plan: NetPlan, shortcut_convs: list[list[bool]] | None = None) -> None:
    """Add stem, blocks (ModuleList per stage), head and classifier to ``net`` (shared key layout)."""
    net.stem = ConvBn(3, plan.stem_c, plan.stem_kernel, plan.stem_stride)
    net.blocks = nn.ModuleList(
        nn.ModuleList(MBBlock(b, None if shortcut_convs is None else shortcut_convs[s][j]) for j, b in enumerate(st))
        for s, st in enumerate(plan.stages))
    net.head = Head(plan.last_c, plan.final_c, plan.head_c)
    net.classifier = nn.Linear(plan.head_c, plan.num_classes)


class LayeredNet(nn.Module):
    """What ``StaticNet`` and ``Supernet`` share: the layers ``build_layers`` adds (typed for mypy)."""

    stem: ConvBn
    blocks: nn.ModuleList
    head: Head
    classifier: nn.Linear

    def block(self, stage: int, index: int) -> MBBlock:
        return cast(MBBlock, cast(nn.ModuleList, self.blocks[stage])[index])

    def all_blocks(self) -> Iterator[MBBlock]:
        for stage in self.blocks:
            yield from cast(Iterable[MBBlock], stage)


class StaticNet(LayeredNet):
    """A plain network for one architecture: exportable, no elastic logic, native resolution input."""

    def __init__(self, plan: NetPlan, arch: ArchConfig | None = None, space_name: str | None = None) -> None:
        super().__init__()
        self.plan = plan
        self.arch = arch
        self.space_name = space_name
        self.dropout = 0.0
        build_layers(self, plan)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for block in self.all_blocks():
            x = block(x)
        x = self.head(x)
        if self.training and self.dropout > 0:
            x = nn.functional.dropout(x, self.dropout, True)
        return self.classifier(x)


def build_static(space: SearchSpace, arch: ArchConfig, num_classes: int) -> StaticNet:
    """A randomly initialised static network for ``arch`` (PyTorch default init)."""
    return StaticNet(build_plan(space, arch, num_classes), arch, space.name)
