"""TrainConfig: precedence CLI > env > YAML > defaults, unknown keys, type errors; LR schedule; wd groups."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from edgenas.runtime.errors import ConfigError
from edgenas.search.train import param_groups, warmup_cosine
from edgenas.search.train_config import TrainConfig, resolve


def test_precedence_cli_over_env_over_yaml_over_default(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("epochs: 7\nbatch_size: 16\nlr: 0.05\ndistill: kl\n")
    env = {"EDGENAS_BATCH_SIZE": "24", "EDGENAS_LR": "0.02", "EDGENAS_AUGMENT": "false"}
    cfg = resolve({"lr": 0.3, "seed": None}, str(cfg_file), env)
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.distill, cfg.augment) == (7, 24, 0.3, "kl", False)
    assert cfg.seed == TrainConfig().seed and cfg.momentum == 0.9


def test_unknown_yaml_key_and_bad_values(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 3\nlearning_rate: 0.1\n")
    with pytest.raises(ConfigError, match="learning_rate"):
        resolve({}, str(bad), {})
    with pytest.raises(ConfigError, match="EDGENAS_EPOCHS"):
        resolve({}, None, {"EDGENAS_EPOCHS": "three"})
    with pytest.raises(ConfigError, match="does not exist"):
        resolve({}, str(tmp_path / "missing.yaml"), {})
    with pytest.raises(ConfigError, match="warmup_epochs"):
        TrainConfig(epochs=2, warmup_epochs=3)
    with pytest.raises(ConfigError, match="distill"):
        TrainConfig(distill="mse")


def test_shipped_experiment_configs_are_valid() -> None:
    root = Path(__file__).resolve().parents[2] / "configs" / "experiments"
    files = sorted(root.glob("*.yaml"))
    assert any(f.name == "digits-cpu.yaml" for f in files)
    for f in files:
        resolve({}, str(f), {})


def test_warmup_then_cosine() -> None:
    f = warmup_cosine(total_steps=100, warmup_steps=10, start_factor=0.001)
    assert f(0) == pytest.approx(0.001) and f(5) == pytest.approx(0.001 + 0.999 * 0.5)
    assert f(10) == pytest.approx(1.0) and f(55) == pytest.approx(0.5) and f(100) == pytest.approx(0.0)
    assert f(30) == pytest.approx(0.5 * (1 + math.cos(math.pi * 20 / 90)))
    assert all(f(s) >= f(s + 1) for s in range(10, 100))


def test_no_weight_decay_on_bn_and_bias() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    decay, no_decay = param_groups(net, 1e-5)
    assert decay["weight_decay"] == 1e-5 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(net[0].weight), id(net[3].weight)}
    assert len(no_decay["params"]) == 4  # conv bias, BN weight and bias, linear bias
    opt = torch.optim.SGD([decay, no_decay], lr=0.1)
    assert len(opt.param_groups) == 2
