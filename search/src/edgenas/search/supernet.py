"""The elastic weight-sharing supernet with three verbs: ``sample``, ``activate``, ``extract``.

It holds the weights of the space's maximum network (same key layout as ``StaticNet``) and runs
the active subnet on prefix slices of them: first-N output / input channels, BN statistics of the
first N channels, centre-cropped depthwise kernels, the first ``d`` blocks of each stage.
Unlike AlphaNet's dynamic BN, the forward also works in eval mode (stored statistics) and with batch 1.
An input whose size differs from the active resolution is resized (bicubic), as upstream does;
``extract()`` returns a ``StaticNet`` that takes the native resolution.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from edgenas.search.arch import ArchConfig
from edgenas.search.ops import (
    centre_crop,
    elastic_bn,
    elastic_conv,
    elastic_conv_bn,
    elastic_se,
    pool_padding,
    swish,
)
from edgenas.search.spaces import SearchSpace
from edgenas.search.static import BlockPlan, LayeredNet, MBBlock, NetPlan, StaticNet, build_layers, build_plan


def _needs_shortcut_conv(space: SearchSpace, stage: int, index: int) -> bool:
    """A block needs a 1x1 shortcut conv if some choice of widths makes its c_in differ from c_out."""
    if index > 0:
        return False
    prev = space.stem_widths if stage == 0 else space.stages[stage - 1].widths
    out = space.stages[stage].widths
    return not (len(prev) == len(out) == 1 and prev == out)


class Supernet(LayeredNet):
    """Weight-sharing supernet of ``space``; ``activate(arch)`` picks the subnet that ``forward`` runs."""

    def __init__(self, space: SearchSpace, num_classes: int | None = None, zero_init_residual: bool = True) -> None:
        super().__init__()
        self.space = space
        self.num_classes = int(num_classes or space.num_classes)
        max_plan = build_plan(space, space.max_arch(), self.num_classes)
        convs = [[_needs_shortcut_conv(space, s, j) for j in range(len(st))] for s, st in enumerate(max_plan.stages)]
        build_layers(self, max_plan, convs)
        self.max_plan = max_plan
        self.dropout = 0.0  # applied before the classifier, in training only
        self.drop_connect = 0.0  # on the residual branch of the last two stages, scaled by block position
        if zero_init_residual:
            for block in self.all_blocks():
                nn.init.zeros_(block.project.bn.weight)
        self._arch: ArchConfig = space.max_arch()
        self._plan: NetPlan = max_plan

    # ---- the three verbs --------------------------------------------------------------------
    @property
    def active_arch(self) -> ArchConfig:
        return self._arch

    @property
    def active_plan(self) -> NetPlan:
        return self._plan

    def activate(self, arch: ArchConfig) -> ArchConfig:
        self._plan = build_plan(self.space, arch, self.num_classes)  # validates
        self._arch = arch
        return arch

    def sample(self, rng: np.random.Generator) -> ArchConfig:
        return self.activate(self.space.sample(rng))

    def sample_min(self) -> ArchConfig:
        return self.activate(self.space.min_arch())

    def sample_max(self) -> ArchConfig:
        return self.activate(self.space.max_arch())

    def extract(self) -> StaticNet:
        """A deep copy of the active subnet as a plain ``StaticNet`` (sliced weights and BN stats)."""
        net = StaticNet(self._plan, self._arch, self.space.name).to(self.stem.conv.weight.device)
        src = self.state_dict()
        sliced = {k: _slice_like(src[k], v).clone() for k, v in net.state_dict().items()}
        net.load_state_dict(sliced, strict=True)
        mine = dict(_bns(self))
        for name, bn in _bns(net):
            bn.momentum, bn.eps = mine[name].momentum, mine[name].eps
        net.dropout = self.dropout
        return net.train(self.training)

    # ---- forward ---------------------------------------------------------------------------------
    def forward(self, x: Tensor) -> Tensor:
        plan = self._plan
        if x.shape[-1] != plan.resolution or x.shape[-2] != plan.resolution:
            x = F.interpolate(x, size=(plan.resolution, plan.resolution), mode="bicubic", align_corners=False)
        x = elastic_conv_bn(self.stem, x, plan.stem_c, stride=plan.stem_stride)
        n_total = sum(len(s) for s in self.max_plan.stages)
        pos = 0
        for s, st in enumerate(plan.stages):
            for j, b in enumerate(st):
                rate = self.drop_connect * (pos + j) / n_total if s >= len(plan.stages) - 2 else 0.0
                x = self._block(self.block(s, j), b, x, rate)
            pos += len(self.max_plan.stages[s])
        x = elastic_conv_bn(self.head.final_expand, x, plan.final_c)
        x = swish(elastic_conv(self.head.feature_mix, F.adaptive_avg_pool2d(x, 1), plan.head_c))
        x = torch.flatten(x, 1)
        if self.training and self.dropout > 0:
            x = F.dropout(x, self.dropout, True)
        return F.linear(x, self.classifier.weight[:, :plan.head_c], self.classifier.bias)

    def _block(self, m: MBBlock, b: BlockPlan, x: Tensor, drop_rate: float) -> Tensor:
        y = elastic_conv_bn(m.expand, x, b.hidden) if b.expand and m.expand is not None else x
        y = elastic_conv_bn(m.dw, y, b.hidden, b.kernel, b.stride, depthwise=True)
        if b.se_mid and m.se is not None:
            y = elastic_se(m.se, y, b.se_mid)
        y = elastic_bn(m.project.bn, elastic_conv(m.project.conv, y, b.c_out))
        res = x
        if b.pool:
            res = F.avg_pool2d(res, 2, 2, padding=pool_padding(res.shape[-1]))
        if b.shortcut_conv:
            assert m.shortcut is not None
            res = elastic_conv(m.shortcut, res, b.c_out)
        if self.training and drop_rate > 0:
            keep = 1.0 - drop_rate
            mask = torch.rand(y.shape[0], 1, 1, 1, device=y.device, dtype=y.dtype).add_(keep).floor_()
            y = y / keep * mask
        return y + res


def _slice_like(src: Tensor, like: Tensor) -> Tensor:
    """Prefix-slice ``src`` to ``like``'s shape; square spatial dims of conv weights are centre-cropped."""
    if src.dim() == 0:
        return src
    if src.dim() == 4 and src.shape[-1] != like.shape[-1]:
        src = centre_crop(src, like.shape[-1])
    return src[tuple(slice(0, n) for n in like.shape)]


def _bns(net: nn.Module) -> list[tuple[str, nn.BatchNorm2d]]:
    return [(n, m) for n, m in net.named_modules() if isinstance(m, nn.BatchNorm2d)]
