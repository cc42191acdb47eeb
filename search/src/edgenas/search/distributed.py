"""Data-parallel helpers for torchrun: process group from the environment, gradient averaging.

``torchrun --nproc_per_node N "$(which edgenas)" search train ...`` sets RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT; :func:`init_from_env` joins the group (gloo on CPU,
nccl on CUDA). The sandwich rule runs four differently-shaped forward/backward passes per step,
so instead of wrapping the model in ``DistributedDataParallel`` (whose reducer expects one
backward per step and a fixed set of used parameters) the trainer accumulates the gradients of
all passes locally and then averages them once with :func:`average_gradients` — the same
arithmetic as DDP, with explicit control. Every rank samples the same subnets from a shared seed.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import Sampler

from edgenas.runtime.errors import EdgeNasError

log = logging.getLogger(__name__)
ENV_KEYS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


class DistributedError(EdgeNasError):
    """The torchrun environment is incomplete or the process group cannot be formed."""


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")  # noqa: RUF009 - an immutable default

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` = this rank's CUDA device when there is one, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DistributedError(f"device {name!r} was asked for but CUDA is not available; use --device cpu")
        return torch.device("cuda", local_rank) if name == "cuda" else torch.device(name)
    if name != "cpu":
        raise DistributedError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N")
    return torch.device("cpu")


def init_from_env(device: str = "auto", timeout_s: float = 3600.0) -> DistInfo:
    """Join the process group torchrun describes; a plain single process when WORLD_SIZE is unset or 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo(device=pick_device(device))
    missing = [k for k in ENV_KEYS if k not in os.environ]
    if missing:
        raise DistributedError(f"WORLD_SIZE={world} but {missing} are not set; launch with torchrun "
                               "(torchrun --nproc_per_node N $(which edgenas) search train ...)")
    rank, local = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    dev = pick_device(device, local)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend, rank=rank, world_size=world,
                                timeout=datetime.timedelta(seconds=timeout_s))
    log.info("rank %d/%d joined the %s process group on %s", rank, world, backend, dev)
    return DistInfo(rank, world, local, dev)


def shutdown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def broadcast_parameters(model: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank (start from identical weights)."""
    if not info.enabled:
        return
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            dist.broadcast(tensor.data, src=0)


def average_gradients(params: Iterable[nn.Parameter], info: DistInfo) -> None:
    """All-reduce-average the gradients of ``params`` in one flat buffer (missing grads count as 0)."""
    if not info.enabled:
        return
    plist = [p for p in params if p.requires_grad]
    for p in plist:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
    flat = torch.cat([p.grad.reshape(-1) for p in plist])  # type: ignore[union-attr]
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat.div_(info.world_size)
    offset = 0
    for p in plist:
        n = p.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p))  # type: ignore[union-attr]
        offset += n


def all_mean(values: list[float], info: DistInfo, device: torch.device) -> list[float]:
    """Average a few floats over ranks (for logging)."""
    if not info.enabled:
        return values
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return (t / info.world_size).tolist()


class GlobalBatchSampler(Sampler[list[int]]):
    """Batches of one epoch for one rank: a seeded permutation cut into global batches of
    ``batch_size * world_size``, each split into contiguous per-rank slices; incomplete global
    batches are dropped. ``skip`` batches at the start are left out (resuming mid-epoch).

    One process with ``batch_size * world_size`` sees exactly the union of what the ranks see.
    """

    def __init__(self, n: int, batch_size: int, seed: int, epoch: int, rank: int = 0, world_size: int = 1,
                 skip: int = 0, shuffle: bool = True) -> None:
        self.n, self.batch_size, self.seed, self.epoch = n, batch_size, seed, epoch
        self.rank, self.world_size, self.skip, self.shuffle = rank, world_size, skip, shuffle
        if self.batches_per_epoch() == 0:
            raise DistributedError(f"{n} training images are fewer than one global batch "
                                   f"({batch_size} x {world_size} processes); lower --batch-size")

    def batches_per_epoch(self) -> int:
        return self.n // (self.batch_size * self.world_size)

    def __len__(self) -> int:
        return self.batches_per_epoch() - self.skip

    def __iter__(self) -> Iterator[list[int]]:
        order = (np.random.default_rng([self.seed, self.epoch]).permutation(self.n) if self.shuffle
                 else np.arange(self.n))
        g = self.batch_size * self.world_size
        for b in range(self.skip, self.batches_per_epoch()):
            start = b * g + self.rank * self.batch_size
            yield order[start:start + self.batch_size].tolist()
