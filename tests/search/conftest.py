"""Shared helpers for the search tests (S1: spaces, supernet, export)."""

from __future__ import annotations

import pytest
import torch
from torch import nn


def _randomize_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BN affine and running statistics, so equivalence tests can fail."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
    return model


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture
def randomize_bn():  # type: ignore[no-untyped-def]
    """Fixture form: ``randomize_bn(model, seed=0)`` gives BN layers non-trivial affine and statistics."""
    return _randomize_bn
