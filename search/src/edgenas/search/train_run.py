"""One training run end to end: data, supernet, resume, epochs, logs, checkpoints, final weights.

Outputs in ``cfg.out`` (rank 0 writes them, each atomically): ``config.yaml`` (resolved settings,
seed and process count), ``log.jsonl`` + ``log.csv`` (one row per epoch), ``last.pt`` (resumable
state, every epoch and every ``checkpoint_every`` steps) and ``supernet.pt`` (final weights).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import yaml

from edgenas.runtime._io import atomic_write_text
from edgenas.runtime.errors import ConfigError
from edgenas.search import checkpoint as ckpt
from edgenas.search.data import DatasetInfo, load_dataset, make_loader, subset
from edgenas.search.distributed import DistInfo, barrier, broadcast_parameters, init_from_env, shutdown
from edgenas.search.train import Trainer
from edgenas.search.train_config import TrainConfig

log = logging.getLogger(__name__)
LOG_FIELDS = ("epoch", "step", "lr", "loss_max_ce", "loss_kd", "train_top1_max", "val_top1_max", "val_top1_min",
              "epoch_time_s", "images_per_s", "steps")


def _data(cfg: TrainConfig, resolution: int) -> tuple[DatasetInfo, DatasetInfo, DatasetInfo]:
    train = load_dataset(cfg.dataset, "train", resolution, cfg.data_root, augment=cfg.augment)
    calib = load_dataset(cfg.dataset, "train", resolution, cfg.data_root, augment=False)
    val = load_dataset(cfg.dataset, "val", resolution, cfg.data_root, augment=False)
    if cfg.train_subset is not None:
        size: int | float = int(cfg.train_subset) if cfg.train_subset > 1 else float(cfg.train_subset)
        train = dataclasses.replace(train, dataset=subset(train.dataset, size, cfg.seed))
        calib = dataclasses.replace(calib, dataset=subset(calib.dataset, size, cfg.seed))
    return train, calib, val


def write_logs(out: Path, history: list[dict[str, Any]]) -> None:
    atomic_write_text(out / "log.jsonl", "".join(json.dumps(row) + "\n" for row in history))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=LOG_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    atomic_write_text(out / "log.csv", buf.getvalue())


def _check_resumable(cfg: TrainConfig, state: dict[str, Any], world: int) -> None:
    saved = TrainConfig(**state["config"])
    diff = {k: (v, cfg.computing()[k]) for k, v in saved.computing().items() if cfg.computing()[k] != v}
    if diff:
        raise ConfigError("--resume continues the same run, but these settings differ from the saved run: "
                          + ", ".join(f"{k} (saved {a!r}, now {b!r})" for k, (a, b) in diff.items())
                          + "; drop them or start a new run with another --out")
    if state["meta"].get("world_size") != world:
        raise ConfigError(f"the run was trained with {state['meta'].get('world_size')} processes and resumed "
                          f"with {world}; resume with the same number of processes")


def _start(cfg: TrainConfig, trainer: Trainer, out: Path, world: int) -> tuple[int, int, list[dict[str, Any]]]:
    """(first epoch, batches to skip in it, history) — from last.pt on --resume, else a fresh start."""
    last = out / "last.pt"
    if not cfg.resume:
        if last.exists():
            raise ConfigError(f"{out} already holds a training run ({last}); pass --resume to continue it "
                              "or choose another --out")
        return 0, 0, []
    state = ckpt.load_train_state(last)
    _check_resumable(cfg, state, world)
    trainer.net.load_state_dict(state["model"])
    trainer.optimizer.load_state_dict(state["optimizer"])
    trainer.scheduler.load_state_dict(state["scheduler"])
    ckpt.set_rng_state(state["rng"])
    trainer.step = int(state["step"])
    log.info("resuming %s at epoch %d, step %d", out, state["epoch"] + 1, trainer.step)
    return int(state["epoch"]), int(state["step_in_epoch"]), list(state["history"])


def run_training(cfg: TrainConfig, after_step: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Train a supernet as ``cfg`` says; returns the last log row plus the output paths."""
    from edgenas.search.spaces import load_space
    from edgenas.search.supernet import Supernet

    dist = init_from_env(cfg.device)
    try:
        return _run(cfg, dist, load_space(cfg.space), Supernet, after_step)
    finally:
        shutdown(dist)


def _run(cfg: TrainConfig, dist: DistInfo, space: Any, supernet_cls: Any,
         after_step: Callable[[int, int], None] | None) -> dict[str, Any]:
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    train, calib, val = _data(cfg, max(space.resolutions))
    torch.manual_seed(cfg.seed)
    net = supernet_cls(space, train.num_classes)
    broadcast_parameters(net, dist)
    trainer = Trainer(cfg, net, train, dist)
    out = Path(cfg.out)
    meta = {"space": space.name, "num_classes": train.num_classes, "classes": train.classes,
            "dataset": train.name, "world_size": dist.world_size}
    first, skip, history = _start(cfg, trainer, out, dist.world_size)
    if not cfg.resume:  # augmentation and dropout streams differ per rank; on resume they are restored
        torch.manual_seed(cfg.seed + 1000 * dist.rank)
    if dist.is_main:
        atomic_write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict() | {"world_size": dist.world_size},
                                                              sort_keys=False))

    def save(epoch: int, in_epoch: int) -> None:
        if dist.is_main:
            ckpt.save_train_state(out / "last.pt", model=trainer.net, optimizer=trainer.optimizer,
                                  scheduler=trainer.scheduler, epoch=epoch, step=trainer.step,
                                  step_in_epoch=in_epoch, config=cfg.to_dict(), history=history, meta=meta)

    def on_step(epoch: int, in_epoch: int) -> None:
        if cfg.checkpoint_every and trainer.step % cfg.checkpoint_every == 0 and in_epoch < trainer.steps_per_epoch:
            save(epoch, in_epoch)
        if after_step is not None:
            after_step(epoch, in_epoch)

    calib_loader = make_loader(calib.dataset, cfg.batch_size, True, cfg.seed, cfg.num_workers, drop_last=True)
    val_loader = make_loader(val.dataset, cfg.eval_batch_size, False, cfg.seed, cfg.num_workers)
    for epoch in range(first, cfg.epochs):
        row: dict[str, Any] = {"epoch": epoch + 1, **trainer.train_epoch(epoch, skip, on_step)}
        skip = 0
        row.update(step=trainer.step, lr=trainer.lr())
        due = (cfg.eval_every and (epoch + 1) % cfg.eval_every == 0) or epoch + 1 == cfg.epochs
        if due and dist.is_main:
            row.update(trainer.validate(calib_loader, val_loader))
        barrier(dist)
        history.append(row)
        if dist.is_main:
            write_logs(out, history)
            log.info("epoch %d: %s", epoch + 1, {k: round(v, 4) if isinstance(v, float) else v
                                                 for k, v in row.items()})
        save(epoch + 1, 0)
    if dist.is_main:
        ckpt.save_supernet_weights(out / "supernet.pt", trainer.net, space, train.classes,
                                   {"config": cfg.to_dict(), "last": history[-1] if history else {},
                                    "dataset": train.name, "world_size": dist.world_size})
    barrier(dist)
    return {**(history[-1] if history else {}), "out": str(out), "supernet": str(out / "supernet.pt")}
