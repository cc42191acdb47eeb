"""Losses for supernet training: label-smoothed CE for the max subnet, and in-place distillation.

The adaptive alpha-divergence follows Wang et al., "AlphaNet: Improved Training of Supernets with
Alpha-Divergence" (ICML 2021), as summarized in shared/reference/alphanet.md §d:

* p = softmax(teacher), q = softmax(student), w = p / q (treated as constants for the weights).
* D_alpha = 1/(alpha(alpha-1)) * sum_k q_k [clip(w_k^alpha, 0, beta) - 1] for alpha not in {0, 1};
  D_1 = KL(p || q) (unclipped); D_0 = KL(q || p) with w clipped to [0, beta].
* Per sample, the larger of D_{alpha_min} and D_{alpha_max} is kept.
* Backpropagation goes through the surrogate L = -sum_k sg[q_k rho_k] log q_k with
  rho = clip(w^alpha)/alpha + 1/(alpha(alpha-1)) (alpha=1: rho = w; alpha=0: rho = log w - 1),
  whose gradient equals the gradient of D_alpha. The batch mean of the surrogate is returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from edgenas.runtime.errors import ConfigError


def _log_w(student: torch.Tensor, teacher: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(log q with grad, log w = log p - log q detached)."""
    log_q = F.log_softmax(student, dim=-1)
    log_p = F.log_softmax(teacher.detach(), dim=-1)
    return log_q, (log_p - log_q).detach()


def alpha_divergence(student: torch.Tensor, teacher: torch.Tensor, alpha: float,
                     iw_clip: float = 5.0) -> torch.Tensor:
    """Per-sample D_alpha(p || q) with clipped importance weights, differentiable in ``student``."""
    log_q = F.log_softmax(student, dim=-1)
    log_p = F.log_softmax(teacher.detach(), dim=-1)
    q, log_w = log_q.exp(), log_p - log_q
    if alpha == 1.0:
        return (log_p.exp() * (log_p - log_q)).sum(-1)
    if alpha == 0.0:
        return -(q * log_w.clamp(max=math.log(iw_clip))).sum(-1)
    w_a = torch.exp(alpha * log_w).clamp(0.0, iw_clip)
    return (q * (w_a - 1.0)).sum(-1) / (alpha * (alpha - 1.0))


def alpha_surrogate(student: torch.Tensor, teacher: torch.Tensor, alpha: float,
                    iw_clip: float = 5.0) -> torch.Tensor:
    """Per-sample surrogate -sum_k sg[q_k rho_k] log q_k whose gradient is grad D_alpha."""
    log_q, log_w = _log_w(student, teacher)
    q = log_q.detach().exp()
    if alpha == 1.0:
        rho = log_w.exp()
    elif alpha == 0.0:
        rho = log_w.clamp(max=math.log(iw_clip)) - 1.0
    else:
        rho = torch.exp(alpha * log_w).clamp(0.0, iw_clip) / alpha + 1.0 / (alpha * (alpha - 1.0))
    return -((q * rho).detach() * log_q).sum(-1)


class AdaptiveAlphaDivergence(nn.Module):
    """AlphaNet's adaptive alpha-divergence: per sample, the larger of D_{alpha_min} and D_{alpha_max}."""

    def __init__(self, alpha_min: float = -1.0, alpha_max: float = 1.0, iw_clip: float = 5.0) -> None:
        super().__init__()
        if not alpha_min < alpha_max or iw_clip <= 0:
            raise ConfigError(f"adaptive alpha-divergence needs alpha_min < alpha_max and iw_clip > 0 "
                              f"(got {alpha_min}, {alpha_max}, {iw_clip}); fix the distill settings")
        self.alpha_min, self.alpha_max, self.iw_clip = float(alpha_min), float(alpha_max), float(iw_clip)
        self.last_divergence = float("nan")  # batch mean of the chosen D (the surrogate's value differs)

    def choose(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """Bool per sample: True where D_{alpha_max} >= D_{alpha_min}. Sets ``last_divergence``."""
        with torch.no_grad():
            d_min = alpha_divergence(student, teacher, self.alpha_min, self.iw_clip)
            d_max = alpha_divergence(student, teacher, self.alpha_max, self.iw_clip)
            self.last_divergence = float(torch.maximum(d_min, d_max).mean())
        return d_max >= d_min

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        use_max = self.choose(student, teacher)
        lo = alpha_surrogate(student, teacher, self.alpha_min, self.iw_clip)
        hi = alpha_surrogate(student, teacher, self.alpha_max, self.iw_clip)
        return torch.where(use_max, hi, lo).mean()


class SoftKL(nn.Module):
    """Plain in-place distillation, KL(p_teacher || q_student) at temperature 1 (AttentiveNAS)."""

    last_divergence = float("nan")

    def forward(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        log_q = F.log_softmax(student, dim=-1)
        log_p = F.log_softmax(teacher.detach(), dim=-1)
        loss = (log_p.exp() * (log_p - log_q)).sum(-1).mean()
        self.last_divergence = float(loss.detach())
        return loss


DISTILL_LOSSES: dict[str, Callable[..., AdaptiveAlphaDivergence | SoftKL]] = {
    "alpha": AdaptiveAlphaDivergence,
    "kl": lambda **_: SoftKL(),
}


def make_distill_loss(kind: str, alpha_min: float = -1.0, alpha_max: float = 1.0,
                      iw_clip: float = 5.0) -> AdaptiveAlphaDivergence | SoftKL:
    if kind not in DISTILL_LOSSES:
        raise ConfigError(f"unknown distillation loss {kind!r}; use one of {', '.join(DISTILL_LOSSES)}")
    return DISTILL_LOSSES[kind](alpha_min=alpha_min, alpha_max=alpha_max, iw_clip=iw_clip)


def smoothed_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, smoothing: float = 0.1) -> torch.Tensor:
    """Label-smoothed cross-entropy (uniform smoothing over all classes), batch mean."""
    return F.cross_entropy(logits, labels, label_smoothing=smoothing)
