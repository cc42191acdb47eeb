"""Adaptive alpha-divergence: values, the surrogate's gradient, per-sample selection, options."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from edgenas.runtime.errors import ConfigError
from edgenas.search.losses import (
    AdaptiveAlphaDivergence,
    SoftKL,
    alpha_divergence,
    alpha_surrogate,
    make_distill_loss,
    smoothed_cross_entropy,
)


def _logits(seed: int, n: int = 6, k: int = 5, scale: float = 1.5) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, k, generator=g, dtype=torch.float64) * scale,
            torch.randn(n, k, generator=g, dtype=torch.float64) * scale)


@pytest.mark.parametrize("alpha", [-1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
def test_surrogate_gradient_equals_divergence_gradient(alpha: float) -> None:
    student, teacher = _logits(1)
    big_clip = 1e9  # with no clipping active, the surrogate's gradient is exactly grad D_alpha
    s1 = student.clone().requires_grad_(True)
    alpha_divergence(s1, teacher, alpha, big_clip).sum().backward()
    s2 = student.clone().requires_grad_(True)
    alpha_surrogate(s2, teacher, alpha, big_clip).sum().backward()
    assert s1.grad is not None and s2.grad is not None
    assert torch.allclose(s1.grad, s2.grad, atol=1e-10)


def test_known_values() -> None:
    student, teacher = _logits(2)
    p, q = F.softmax(teacher, -1), F.softmax(student, -1)
    kl_pq = (p * (p.log() - q.log())).sum(-1)
    assert torch.allclose(alpha_divergence(student, teacher, 1.0), kl_pq)
    kl_qp = (q * (q.log() - p.log())).sum(-1)
    assert torch.allclose(alpha_divergence(student, teacher, 0.0, 1e9), kl_qp)
    # alpha = -1: 1/2 sum q (min(q/p, 5) - 1)
    expected = 0.5 * (q * ((q / p).clamp(max=5.0) - 1.0)).sum(-1)
    assert torch.allclose(alpha_divergence(student, teacher, -1.0, 5.0), expected)
    assert torch.allclose(alpha_divergence(teacher, teacher, -1.0), torch.zeros(6, dtype=torch.float64))


def test_clipping_bounds_the_negative_alpha_term() -> None:
    student = torch.tensor([[10.0, -10.0]], dtype=torch.float64)
    teacher = torch.tensor([[-10.0, 10.0]], dtype=torch.float64)
    d = alpha_divergence(student, teacher, -1.0, 5.0)
    assert float(d) <= 0.5 * (5.0 - 1.0) + 1e-9
    assert float(alpha_divergence(student, teacher, -1.0, 1e12)) > 1e6


def test_adaptive_keeps_the_larger_divergence_per_sample() -> None:
    student, teacher = _logits(3, n=32, scale=3.0)
    loss = AdaptiveAlphaDivergence(-1.0, 1.0, 5.0)
    d_lo = alpha_divergence(student, teacher, -1.0, 5.0)
    d_hi = alpha_divergence(student, teacher, 1.0, 5.0)
    choice = loss.choose(student, teacher)
    assert torch.equal(choice, d_hi >= d_lo)
    assert 0 < int(choice.sum()) < 32  # both branches occur in this batch
    expected = torch.where(choice, alpha_surrogate(student, teacher, 1.0), alpha_surrogate(student, teacher, -1.0))
    assert torch.allclose(loss(student, teacher), expected.mean())


def test_teacher_gets_no_gradient_and_student_does() -> None:
    student, teacher = _logits(4)
    student.requires_grad_(True)
    teacher.requires_grad_(True)
    AdaptiveAlphaDivergence()(student, teacher).backward()
    assert teacher.grad is None and student.grad is not None and float(student.grad.abs().sum()) > 0


def test_kl_option_and_factory() -> None:
    student, teacher = _logits(5)
    expected = F.kl_div(F.log_softmax(student, -1), F.log_softmax(teacher, -1), log_target=True,
                        reduction="batchmean")
    assert torch.allclose(SoftKL()(student, teacher), expected)
    assert isinstance(make_distill_loss("kl"), SoftKL)
    assert make_distill_loss("alpha", -0.5, 2.0, 3.0).alpha_max == 2.0  # type: ignore[comparison-overlap]
    with pytest.raises(ConfigError, match="unknown distillation"):
        make_distill_loss("mse")
    with pytest.raises(ConfigError):
        AdaptiveAlphaDivergence(1.0, -1.0)


def test_label_smoothing() -> None:
    logits = torch.tensor([[5.0, 0.0, 0.0]])
    labels = torch.tensor([0])
    plain = smoothed_cross_entropy(logits, labels, 0.0)
    smooth = smoothed_cross_entropy(logits, labels, 0.1)
    assert float(smooth) > float(plain)
