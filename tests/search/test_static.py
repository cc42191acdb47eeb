from __future__ import annotations

import pytest
import torch

from edgenas.search.arch import ArchConfig
from edgenas.search.spaces import load_space
from edgenas.search.static import build_plan, build_static
from edgenas.search.supernet import Supernet


@pytest.mark.parametrize("res, last", [(192, 6), (224, 7), (256, 8), (288, 9)])
def test_alphanet_feature_sizes(res, last):
    s = load_space("alphanet")
    a = s.max_arch()
    plan = build_plan(s, ArchConfig(res, a.widths, a.depths, a.kernel_sizes, a.expand_ratios), 1000)
    assert plan.last_size == last and plan.stem_size == res // 2


def test_alphanet_max_widths_match_reference():
    """alphanet.md §b: max expand / SE widths of the first and later blocks of each stage."""
    s = load_space("alphanet")
    plan = build_plan(s, s.max_arch(), 1000)
    first_later = [(st[0].hidden, st[0].se_mid, st[1].hidden, st[1].se_mid) for st in plan.stages]
    assert first_later == [(24, 0, 24, 0), (144, 0, 192, 0), (192, 48, 240, 64), (240, 0, 432, 0),
                           (432, 112, 768, 192), (768, 192, 1296, 328), (1296, 328, 1344, 336)]
    assert plan.final_c == 1344 and plan.head_c == 1984


def test_odd_map_pool_padding_and_shortcut_kinds(randomize_bn):
    """tiny at 20 px: 20 -> 10 -> 5 -> 3, so the last stage's avg-pool shortcut pads the odd 5x5 map."""
    s = load_space("tiny")
    a = ArchConfig(20, (16, 16, 24, 32, 48), (1, 1, 1), (3, 3, 3), (1, 2, 2))
    plan = build_plan(s, a, 10)
    assert [b.size_in for b in plan.blocks] == [20, 10, 5] and plan.last_size == 3
    net = build_static(s, a, 10)
    b0, b2 = net.blocks[0][0], net.blocks[2][0]
    assert b0.shortcut is None and b0.pool is not None and b0.expand is None  # pool-only shortcut, t = 1
    assert b2.pool.padding == 1 and b2.shortcut is not None
    sup = randomize_bn(Supernet(s, 10)).eval()
    sup.activate(a)
    x = torch.randn(1, 3, 20, 20)
    with torch.no_grad():
        torch.testing.assert_close(sup.extract()(x), sup(x), rtol=0, atol=1e-5)
