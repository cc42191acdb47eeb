from __future__ import annotations

import numpy as np
import pytest
import torch

from edgenas.search.spaces import load_space
from edgenas.search.static import StaticNet
from edgenas.search.supernet import Supernet


def _archs(space, n_random=3):
    rng = np.random.default_rng(1)
    return [space.max_arch(), space.min_arch(), *(space.sample(rng) for _ in range(n_random))]


@pytest.mark.parametrize("name", ["tiny", "cifar"])
@pytest.mark.parametrize("train", [False, True])
def test_extract_equals_active_supernet(name, train, randomize_bn):
    space = load_space(name)
    net = randomize_bn(Supernet(space, 10)).train(train)
    for i, arch in enumerate(_archs(space)):
        net.activate(arch)
        static = net.extract()
        assert isinstance(static, StaticNet) and static.training == train
        x = torch.randn(1 if not train else 3, 3, arch.resolution, arch.resolution, generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            y_static, y_super = static(x), net(x)
        assert y_super.shape == (x.shape[0], 10)
        torch.testing.assert_close(y_static, y_super, rtol=0, atol=1e-5)
        assert y_super.abs().max() > 1e-3  # not trivially zero


def test_train_mode_updates_the_same_running_stats(randomize_bn):
    space = load_space("tiny")
    net = randomize_bn(Supernet(space, 10)).train()
    net.activate(space.sample(np.random.default_rng(5)))
    static = net.extract()
    x = torch.randn(4, 3, net.active_arch.resolution, net.active_arch.resolution)
    with torch.no_grad():
        net(x)
        static(x)
    again = net.extract()
    for k, v in static.state_dict().items():
        torch.testing.assert_close(again.state_dict()[k], v, msg=k)


def test_extract_is_a_deep_copy():
    space = load_space("tiny")
    net = Supernet(space, 10)
    net.sample_max()
    static = net.extract()
    with torch.no_grad():
        static.stem.conv.weight.add_(1.0)
        static.stem.bn.running_mean.add_(1.0)
    assert not torch.equal(net.stem.conv.weight, static.stem.conv.weight)
    assert not torch.equal(net.stem.bn.running_mean, static.stem.bn.running_mean)


def test_sample_activates_and_batch_one_trains():
    space = load_space("tiny")
    net = Supernet(space, 10).train()
    arch = net.sample(np.random.default_rng(0))
    assert net.active_arch == arch
    assert net.sample_min() == space.min_arch() == net.active_arch
    x = torch.randn(1, 3, 24, 24)  # resized to the active resolution, as upstream does
    net(x).sum().backward()
    assert net.stem.conv.weight.grad is not None
    assert net.sample_max() == space.max_arch()


def test_zero_init_residual():
    net = Supernet(load_space("tiny"), 10)
    assert all(float(b.project.bn.weight.detach().abs().sum()) == 0 for st in net.blocks for b in st)


def test_alphanet_min_subnet_eval_batch_one(randomize_bn):
    space = load_space("alphanet")
    net = randomize_bn(Supernet(space, 1000)).eval()
    arch = net.sample_min()
    static = net.extract()
    x = torch.randn(1, 3, 192, 192)
    with torch.no_grad():
        torch.testing.assert_close(static(x), net(x), rtol=0, atol=1e-4)
    assert len(net.state_dict()) == 1468 - 666 - 30  # AlphaNet's keys minus bn_tracking and dead shortcuts
    assert arch.resolution == 192
