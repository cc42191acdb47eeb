"""Supernet training with the sandwich rule and in-place distillation (AlphaNet recipe).

Per optimizer step, on the same batch: the max subnet with label-smoothed CE (optional dropout /
drop-connect), ``num_random`` uniformly random subnets and the min subnet, each distilled from the
detached max-subnet logits (adaptive alpha-divergence or KL). Gradients of all passes are summed,
averaged over processes, clipped by value, then one SGD (Nesterov) step; the LR follows a linear
warm-up and a per-iteration cosine. See docs/search-training.md.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from edgenas.search.arch import ArchConfig
from edgenas.search.data import DatasetInfo, make_loader
from edgenas.search.distributed import DistInfo, GlobalBatchSampler, all_mean, average_gradients
from edgenas.search.losses import make_distill_loss, smoothed_cross_entropy
from edgenas.search.supernet import Supernet
from edgenas.search.train_config import TrainConfig

log = logging.getLogger(__name__)


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on conv / linear weights; none on BN parameters and biases (AlphaNet's rule)."""
    decay: list[nn.Parameter] = []
    no_decay: list[nn.Parameter] = []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        skip = p.ndim <= 1 or ".bn" in name or name.startswith("bn") or name.endswith(".bias")
        (no_decay if skip else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def warmup_cosine(total_steps: int, warmup_steps: int, start_factor: float) -> Any:
    """LR factor per optimizer step: linear from ``start_factor`` to 1, then cosine to 0."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return start_factor + (1.0 - start_factor) * step / warmup_steps
        span = max(1, total_steps - warmup_steps)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup_steps) / span))))

    return factor


def resize(x: torch.Tensor, resolution: int) -> torch.Tensor:
    if x.shape[-1] == resolution and x.shape[-2] == resolution:
        return x
    return F.interpolate(x, size=(resolution, resolution), mode="bicubic", align_corners=False)


@torch.no_grad()
def evaluate(net: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], resolution: int,
             device: torch.device) -> dict[str, float]:
    """``top1`` (%) and mean cross-entropy ``ce`` (nats, no smoothing) of ``net`` in eval mode,
    inputs resized to ``resolution``."""
    net.eval()
    correct = total = 0
    ce = 0.0
    for x, y in batches:
        logits, y = net(resize(x.to(device), resolution)), y.to(device)
        correct += int((logits.argmax(1) == y).sum())
        ce += float(F.cross_entropy(logits, y, reduction="sum"))
        total += int(y.numel())
    return {"top1": 100.0 * correct / max(1, total), "ce": ce / max(1, total)}


def top1(net: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]], resolution: int,
         device: torch.device) -> float:
    """Top-1 accuracy (%) of ``net`` in eval mode, inputs resized to ``resolution``."""
    return evaluate(net, batches, resolution, device)["top1"]


def input_batches(loader: Iterable[tuple[torch.Tensor, torch.Tensor]], resolution: int,
                  device: torch.device) -> Iterator[torch.Tensor]:
    for x, _ in loader:
        yield resize(x.to(device), resolution)


def inherited_accuracy(supernet: Supernet, arch: ArchConfig, calib: Iterable[Any], val: Iterable[Any],
                       calib_batches: int, device: torch.device) -> float:
    """Extract ``arch``, recalibrate its BN statistics on ``calib_batches`` batches, return val top-1."""
    from edgenas.search.calibrate import recalibrate_bn

    supernet.activate(arch)
    net = supernet.extract().to(device)
    recalibrate_bn(net, input_batches(calib, arch.resolution, device), calib_batches)
    return top1(net, val, arch.resolution, device)


class Trainer:
    """Trains ``supernet`` on ``train`` (a DatasetInfo at the space's largest resolution)."""

    def __init__(self, cfg: TrainConfig, supernet: Supernet, train: DatasetInfo, dist: DistInfo,
                 micro_batches: int = 1) -> None:
        self.cfg, self.net, self.train_info, self.dist = cfg, supernet.to(dist.device), train, dist
        self.space = supernet.space
        self.micro_batches = micro_batches
        for m in self.net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = cfg.bn_momentum
        self.optimizer = torch.optim.SGD(param_groups(self.net, cfg.weight_decay), lr=cfg.lr,
                                         momentum=cfg.momentum, nesterov=cfg.nesterov)
        self.steps_per_epoch = self.sampler(0).batches_per_epoch()
        total = cfg.epochs * self.steps_per_epoch
        warm = int(round(cfg.warmup_epochs * self.steps_per_epoch))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_cosine(total, warm, cfg.warmup_start_factor))
        self.distill = make_distill_loss(cfg.distill, cfg.alpha_min, cfg.alpha_max, cfg.iw_clip)
        self.step = 0

    def sampler(self, epoch: int, skip: int = 0) -> GlobalBatchSampler:
        return GlobalBatchSampler(len(self.train_info.dataset),  # type: ignore[arg-type]
                                  self.cfg.batch_size, self.cfg.seed, epoch,
                                  self.dist.rank, self.dist.world_size, skip)

    def step_archs(self, step: int) -> list[ArchConfig]:
        """max, ``num_random`` random, min — the same on every rank (seeded by run seed and step)."""
        rng = np.random.default_rng([self.cfg.seed, step])
        rand = [self.space.sample(rng) for _ in range(self.cfg.num_random)]
        return [self.space.max_arch(), *rand, self.space.min_arch()]

    def _sandwich(self, x: torch.Tensor, y: torch.Tensor, archs: list[ArchConfig], scale: float) -> list[float]:
        net, cfg = self.net, self.cfg
        net.activate(archs[0])
        net.dropout, net.drop_connect = cfg.dropout, cfg.drop_connect
        logits = net(x)
        loss = smoothed_cross_entropy(logits, y, cfg.label_smoothing)
        (loss * scale).backward()
        teacher = logits.detach()
        net.dropout, net.drop_connect = 0.0, 0.0
        kd = []
        for arch in archs[1:]:
            net.activate(arch)
            (self.distill(net(x), teacher) * scale).backward()
            kd.append(float(self.distill.last_divergence))
        acc = float((teacher.argmax(1) == y).float().mean()) * 100.0
        return [float(loss.detach()), float(np.mean(kd)) if kd else 0.0, acc]

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> list[float]:
        """One optimizer step on this rank's batch.

        Returns [max-subnet CE, mean distillation divergence of the other subnets, max top-1 on the batch].
        """
        self.net.train()
        archs = self.step_archs(self.step)
        self.optimizer.zero_grad(set_to_none=True)
        k = self.micro_batches
        parts = [self._sandwich(xs, ys, archs, 1.0 / k) for xs, ys in zip(x.chunk(k), y.chunk(k), strict=True)]
        average_gradients(self.net.parameters(), self.dist)
        if self.cfg.grad_clip_value > 0:
            nn.utils.clip_grad_value_(self.net.parameters(), self.cfg.grad_clip_value)
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        return [float(v) for v in np.mean(parts, axis=0)]

    def train_epoch(self, epoch: int, skip: int = 0, after_step: Any = None) -> dict[str, float]:
        loader = make_loader(self.train_info.dataset, self.cfg.batch_size, False, self.cfg.seed,
                             self.cfg.num_workers, batch_sampler=self.sampler(epoch, skip))
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{self.cfg.epochs}", leave=False, file=sys.stderr,
                   disable=not (self.cfg.progress and self.dist.is_main and sys.stderr.isatty()))
        sums, n, start = np.zeros(3), 0, time.perf_counter()
        for i, (x, y) in enumerate(bar, start=skip):
            values = self.train_step(x.to(self.dist.device), y.to(self.dist.device))
            sums += values
            n += 1
            bar.set_postfix(ce=f"{values[0]:.3f}", kd=f"{values[1]:.3f}", lr=f"{self.lr():.4f}")
            if after_step is not None:
                after_step(epoch, i + 1)
        seconds = time.perf_counter() - start
        mean = all_mean([float(v) for v in sums / max(1, n)], self.dist, self.dist.device)
        images = n * self.cfg.batch_size * self.dist.world_size
        return {"loss_max_ce": mean[0], "loss_kd": mean[1], "train_top1_max": mean[2], "epoch_time_s": seconds,
                "images_per_s": images / max(seconds, 1e-9), "steps": n}

    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def validate(self, calib: Iterable[Any], val: Iterable[Any]) -> dict[str, float]:
        """Top-1 of the max and min subnets after BN recalibration."""
        out = {}
        for key, arch in (("val_top1_max", self.space.max_arch()), ("val_top1_min", self.space.min_arch())):
            out[key] = inherited_accuracy(self.net, arch, calib, val, self.cfg.calib_batches, self.dist.device)
        self.net.train()
        return out
