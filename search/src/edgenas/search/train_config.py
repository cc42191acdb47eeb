"""``TrainConfig``: every setting of ``edgenas search train``, with its sources in precedence order
CLI > environment (``EDGENAS_<FIELD>``) > ``--config`` YAML > defaults. Unknown YAML keys are errors.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from edgenas.runtime.errors import ConfigError

ENV_PREFIX = "EDGENAS_"
# Settings that may differ when a run is resumed (they do not change what is computed).
RUNTIME_ONLY = frozenset({"resume", "num_workers", "threads", "device", "out", "data_root", "progress"})


@dataclass(frozen=True)
class TrainConfig:
    """Supernet training (AlphaNet recipe, shared/reference/alphanet.md §d)."""

    space: str = "cifar"
    dataset: str = "digits"
    data_root: str | None = None
    out: str = "runs/train"
    epochs: int = 30
    batch_size: int = 64            # per process; the global batch is batch_size x processes
    lr: float = 0.1                 # peak LR for the global batch (AlphaNet: 0.1 per 256 images)
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 1e-5      # on conv / linear weights only (not BN, not biases)
    warmup_epochs: float = 1.0      # AlphaNet: 5 of 360
    warmup_start_factor: float = 0.001
    label_smoothing: float = 0.1
    dropout: float = 0.0            # max subnet only, before the classifier (AlphaNet: 0.2)
    drop_connect: float = 0.0       # max subnet only, last two stages (AlphaNet: 0.2)
    num_random: int = 2             # random subnets per step between max and min (sandwich rule)
    distill: str = "alpha"          # alpha (adaptive alpha-divergence) | kl
    alpha_min: float = -1.0
    alpha_max: float = 1.0
    iw_clip: float = 5.0
    grad_clip_value: float = 1.0    # 0 disables clipping
    bn_momentum: float = 0.0        # 0: running stats untouched during training (BN is recalibrated)
    augment: bool = True
    train_subset: float | None = None  # a count (> 1) or a fraction of the training set
    seed: int = 0
    num_workers: int = 0
    eval_every: int = 1             # epochs between validations of the max and min subnets (0: only at the end)
    calib_batches: int = 16         # BN recalibration batches before each validation
    eval_batch_size: int = 256
    checkpoint_every: int = 0       # optimizer steps between extra last.pt writes (0: every epoch only)
    device: str = "auto"            # auto | cpu | cuda | cuda:N
    threads: int | None = None      # torch.set_num_threads
    resume: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        checks = {
            "epochs": self.epochs >= 1, "batch_size": self.batch_size >= 1, "lr": self.lr > 0,
            "num_random": self.num_random >= 0, "warmup_epochs": 0 <= self.warmup_epochs <= self.epochs,
            "label_smoothing": 0 <= self.label_smoothing < 1, "dropout": 0 <= self.dropout < 1,
            "drop_connect": 0 <= self.drop_connect < 1, "calib_batches": self.calib_batches >= 1,
            "eval_every": self.eval_every >= 0, "checkpoint_every": self.checkpoint_every >= 0,
            "num_workers": self.num_workers >= 0, "distill": self.distill in ("alpha", "kl"),
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ConfigError("invalid training settings: " + ", ".join(f"{k}={getattr(self, k)!r}" for k in bad)
                              + " (see docs/search-training.md for the allowed values)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def computing(self) -> dict[str, Any]:
        """The settings that decide what is computed (compared on --resume)."""
        return {k: v for k, v in self.to_dict().items() if k not in RUNTIME_ONLY}


_HINTS = typing.get_type_hints(TrainConfig)
FIELD_NAMES = tuple(f.name for f in fields(TrainConfig))


def _coerce(name: str, value: Any, source: str) -> Any:
    """Turn a YAML or environment value into the field's type, with a clear error."""
    hint = _HINTS[name]
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if optional else hint
    if value is None or (isinstance(value, str) and value.lower() in ("none", "null", "") and optional):
        if optional:
            return None
        raise ConfigError(f"{source}: {name} may not be empty")
    try:
        if base is bool:
            if isinstance(value, str):
                if value.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                    raise ValueError(value)
                return value.lower() in ("1", "true", "yes", "on")
            if not isinstance(value, bool | int):
                raise ValueError(value)
            return bool(value)
        if base is int:
            if isinstance(value, bool) or float(value) != int(float(value)):
                raise ValueError(value)
            return int(float(value))
        if base is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {name}={value!r} is not a valid {base.__name__}") from exc


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist; pass an existing YAML file to --config")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {p} must be a mapping of settings, got {type(data).__name__}")
    unknown = sorted(set(data) - set(FIELD_NAMES))
    if unknown:
        raise ConfigError(f"config file {p} has unknown keys {unknown}; allowed keys: {', '.join(FIELD_NAMES)}")
    return {k: _coerce(k, v, str(p)) for k, v in data.items()}


def from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out = {}
    for name in FIELD_NAMES:
        key = ENV_PREFIX + name.upper()
        if key in env:
            out[name] = _coerce(name, env[key], f"environment {key}")
    return out


def resolve(cli: Mapping[str, Any], config_path: str | None = None,
            env: Mapping[str, str] | None = None) -> TrainConfig:
    """Merge defaults < YAML < environment < CLI (CLI values of None mean "not given")."""
    merged: dict[str, Any] = read_yaml(config_path) if config_path else {}
    merged.update(from_env(os.environ if env is None else env))
    merged.update({k: v for k, v in cli.items() if v is not None})
    return TrainConfig(**merged)
