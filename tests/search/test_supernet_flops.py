from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from edgenas.search.arch import ArchConfig
from edgenas.search.flops import count_flops_params
from edgenas.search.spaces import load_space
from edgenas.search.supernet import Supernet

# alphanet.md §e: (res, width, depth, kernel, expand, MFLOPs from the upstream counters, params with dead convs excluded)
TABLE = {
    "A0": (192, [16, 16, 24, 32, 64, 112, 192, 216, 1792], [1, 3, 3, 3, 3, 3, 1], [3] * 7, [1, 4, 4, 4, 4, 6, 6], 203.39),
    "A1": (224, [16, 16, 24, 32, 64, 112, 192, 216, 1984], [1, 3, 3, 3, 3, 3, 1], [3, 3, 3, 5, 3, 5, 3],
           [1, 4, 4, 4, 4, 6, 6], 279.24),
    "A2": (224, [16, 16, 24, 32, 64, 112, 200, 224, 1984], [1, 3, 3, 3, 3, 4, 1], [3, 3, 3, 3, 3, 5, 3],
           [1, 4, 5, 4, 4, 6, 6], 316.73),
    "A3": (224, [16, 16, 24, 32, 64, 112, 208, 224, 1984], [2, 3, 3, 4, 3, 5, 1], [3, 3, 3, 5, 3, 3, 3],
           [1, 4, 4, 4, 4, 6, 6], 356.52),
    "A4": (256, [16, 16, 24, 32, 64, 112, 192, 216, 1984], [1, 3, 3, 4, 3, 5, 1], [3, 3, 3, 5, 3, 5, 3],
           [1, 4, 4, 5, 4, 6, 6], 443.53),
    "A5": (256, [16, 16, 24, 32, 64, 112, 208, 216, 1984], [1, 3, 3, 4, 4, 5, 1], [3, 3, 3, 3, 3, 5, 3],
           [1, 4, 4, 5, 4, 6, 6], 491.48),
    "A5_1": (288, [16, 16, 24, 32, 64, 112, 200, 216, 1984], [2, 3, 4, 3, 3, 5, 1], [3, 3, 5, 5, 3, 3, 3],
             [1, 4, 4, 4, 5, 6, 6], 594.79),
    "A6": (288, [16, 16, 24, 32, 64, 112, 216, 224, 1984], [1, 3, 3, 4, 4, 6, 1], [3, 3, 3, 3, 3, 5, 3],
           [1, 4, 6, 5, 4, 6, 6], 709.01),
}


def _arch(row) -> ArchConfig:
    r, w, d, k, t, _ = row
    return ArchConfig(r, tuple(w), tuple(d), tuple(k), tuple(t))


@pytest.mark.parametrize("model", sorted(TABLE))
def test_alphanet_table(model):
    macs, _ = count_flops_params(load_space("alphanet"), _arch(TABLE[model]), 1000)
    assert abs(macs / 1e6 - TABLE[model][-1]) < 0.006


def test_alphanet_extremes():
    s = load_space("alphanet")
    assert abs(count_flops_params(s, s.min_arch())[0] / 1e6 - 203.4) < 0.05
    assert abs(count_flops_params(s, s.max_arch())[0] / 1e6 - 1939.3) < 0.05
    assert abs(count_flops_params(s, _arch(TABLE["A0"]))[1] / 1e6 - 8.954) < 0.001  # alphanet.md §c


def hook_count(model: nn.Module, res: int) -> tuple[int, int]:
    macs = 0

    def conv_hook(m: nn.Conv2d, _inp, out):
        nonlocal macs
        macs += out.numel() // out.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def lin_hook(m: nn.Linear, _inp, out):
        nonlocal macs
        macs += m.in_features * m.out_features

    hooks = [m.register_forward_hook(conv_hook if isinstance(m, nn.Conv2d) else lin_hook)
             for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    with torch.no_grad():
        model.eval()(torch.zeros(1, 3, res, res))
    for h in hooks:
        h.remove()
    return macs, sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", ["tiny", "cifar"])
def test_analytic_count_matches_hooks_on_extracted_net(name):
    space = load_space(name)
    net = Supernet(space, 10)
    rng = np.random.default_rng(0)
    for arch in [space.min_arch(), space.max_arch(), *(space.sample(rng) for _ in range(4))]:
        net.activate(arch)
        assert count_flops_params(space, arch, 10) == hook_count(net.extract(), arch.resolution)


def test_analytic_count_matches_hooks_alphanet_a0():
    space = load_space("alphanet")
    arch = _arch(TABLE["A0"])
    from edgenas.search.static import build_static
    assert count_flops_params(space, arch, 1000) == hook_count(build_static(space, arch, 1000), 192)
