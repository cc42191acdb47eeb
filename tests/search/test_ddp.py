"""Data-parallel training on CPU (gloo): 2 processes == 1 process with the same global batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
import yaml

from edgenas.search.data import load_dataset, make_loader, subset
from edgenas.search.distributed import (
    DistInfo,
    DistributedError,
    GlobalBatchSampler,
    broadcast_parameters,
    init_from_env,
    shutdown,
)
from edgenas.search.spaces import load_space
from edgenas.search.supernet import Supernet
from edgenas.search.train import Trainer
from edgenas.search.train_config import TrainConfig

PER_RANK, STEPS = 8, 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _trainer(batch: int, dist: DistInfo, micro: int) -> Trainer:
    cfg = TrainConfig(space="tiny", batch_size=batch, augment=False, epochs=1, warmup_epochs=0, lr=0.5,
                      progress=False, device="cpu")
    info = load_dataset("digits", "train", 24)
    info = type(info)(**{**info.__dict__, "dataset": subset(info.dataset, 4 * PER_RANK * 2, seed=0)})
    torch.manual_seed(0)
    net = Supernet(load_space("tiny"), 10)
    broadcast_parameters(net, dist)
    return Trainer(cfg, net, info, dist, micro_batches=micro)


def _steps(trainer: Trainer) -> dict[str, torch.Tensor]:
    loader = make_loader(trainer.train_info.dataset, trainer.cfg.batch_size, False, 0,
                         batch_sampler=trainer.sampler(0))
    for _, (x, y) in zip(range(STEPS), loader, strict=False):
        trainer.train_step(x, y)
    return {k: v.detach().clone() for k, v in trainer.net.named_parameters()}


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist = init_from_env("cpu", timeout_s=120)
    try:
        params = _steps(_trainer(PER_RANK, dist, micro=1))
        torch.save(params, f"{out}.{rank}")
    finally:
        shutdown(dist)


def test_two_cpu_processes_match_one_process(tmp_path: Path) -> None:
    out = str(tmp_path / "params.pt")
    mp.start_processes(_worker, args=(2, _free_port(), out), nprocs=2, start_method="fork", join=True)
    rank0, rank1 = (torch.load(f"{out}.{r}", weights_only=True) for r in (0, 1))
    torch.set_num_threads(1)
    reference = _steps(_trainer(2 * PER_RANK, DistInfo(), micro=2))
    lone = _steps(_trainer(PER_RANK, DistInfo(), micro=1))  # one rank's data only: must differ
    moved = 0
    for k, ref in reference.items():
        assert torch.equal(rank0[k], rank1[k]), f"ranks disagree on {k}"
        assert torch.allclose(rank0[k], ref, atol=1e-5, rtol=1e-4), k
        moved += int(not torch.allclose(lone[k], ref, atol=1e-5, rtol=1e-4))
    assert moved > 0


def test_global_batch_sampler_splits_one_permutation() -> None:
    single = list(GlobalBatchSampler(50, 8, seed=3, epoch=1, world_size=1))
    r0 = list(GlobalBatchSampler(50, 4, seed=3, epoch=1, rank=0, world_size=2))
    r1 = list(GlobalBatchSampler(50, 4, seed=3, epoch=1, rank=1, world_size=2))
    assert len(single) == len(r0) == len(r1) == 6
    assert all(a + b == s for a, b, s in zip(r0, r1, single, strict=True))
    assert list(GlobalBatchSampler(50, 8, seed=3, epoch=1, skip=4)) == single[4:]
    assert single != list(GlobalBatchSampler(50, 8, seed=3, epoch=2))
    with pytest.raises(DistributedError, match="batch"):
        GlobalBatchSampler(10, 8, seed=0, epoch=0, world_size=2)


def test_incomplete_torchrun_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    for key in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(DistributedError, match="torchrun"):
        init_from_env("cpu")
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert init_from_env("cpu") == DistInfo()
    with pytest.raises(DistributedError, match="CUDA") if not torch.cuda.is_available() else pytest.raises(Exception):
        init_from_env("cuda")


@pytest.mark.slow
def test_torchrun_cli_two_cpu_processes(tmp_path: Path) -> None:
    torchrun = Path(sys.executable).parent / "torchrun"
    edgenas = Path(sys.executable).parent / "edgenas"
    out = tmp_path / "run"
    cmd = [str(torchrun), "--nproc_per_node", "2", "--master_port", str(_free_port()), str(edgenas), "search",
           "train", "--space", "tiny", "--dataset", "digits", "--epochs", "1", "--batch-size", "8",
           "--train-subset", "64", "--calib-batches", "1", "--threads", "1", "--device", "cpu",
           "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert yaml.safe_load((out / "config.yaml").read_text())["world_size"] == 2
    assert (out / "supernet.pt").is_file() and (out / "log.jsonl").read_text().count("\n") == 1
