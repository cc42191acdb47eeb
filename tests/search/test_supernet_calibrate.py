from __future__ import annotations

import numpy as np
import pytest
import torch

from edgenas.search.calibrate import CalibrationError, recalibrate_bn
from edgenas.search.spaces import load_space
from edgenas.search.supernet import Supernet


def _batches(res: int, n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(4, 3, res, res, generator=g) * 2 + 1, torch.zeros(4, dtype=torch.long)) for _ in range(n)]


def test_cumulative_statistics_and_momentum_restored(randomize_bn):
    space = load_space("tiny")
    net = randomize_bn(Supernet(space, 10))
    net.sample_max()
    static = net.extract()
    static.dropout = 0.5
    batches = _batches(24, 3)
    out = recalibrate_bn(static, batches, num_batches=3)
    assert out is static and not static.training
    with torch.no_grad():
        feats = torch.cat([static.stem.conv(x) for x, _ in batches])
    # equal-size batches: the cumulative average of batch means is the overall mean
    torch.testing.assert_close(static.stem.bn.running_mean, feats.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    assert static.stem.bn.momentum == 0.1 and int(static.stem.bn.num_batches_tracked) == 3


def test_supernet_and_extracted_recalibrate_alike(randomize_bn):
    space = load_space("tiny")
    net = randomize_bn(Supernet(space, 10, zero_init_residual=False))
    arch = net.sample(np.random.default_rng(3))
    before = net.extract()
    batches = [x for x, _ in _batches(arch.resolution, 2, seed=1)]
    recalibrate_bn(net, batches, 2)
    recalibrate_bn(before, batches, 2)
    after = net.extract().eval()
    x = torch.randn(2, 3, arch.resolution, arch.resolution)
    with torch.no_grad():
        torch.testing.assert_close(after(x), before(x), rtol=1e-4, atol=1e-5)


def test_uses_at_most_num_batches_and_rejects_empty():
    space = load_space("tiny")
    net = Supernet(space, 10)
    net.sample_min()
    static = net.extract()
    recalibrate_bn(static, _batches(16, 5), num_batches=2)
    assert int(static.stem.bn.num_batches_tracked) == 2
    with pytest.raises(CalibrationError, match="no batches"):
        recalibrate_bn(static, [], num_batches=2)
    with pytest.raises(CalibrationError, match=">= 1"):
        recalibrate_bn(static, _batches(16, 1), num_batches=0)
