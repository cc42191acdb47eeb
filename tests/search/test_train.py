"""Supernet training: the CLI end to end, outputs and logs, and resume = one uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner

from edgenas.runtime.cli import cli
from edgenas.runtime.errors import ConfigError
from edgenas.search.checkpoint import load_supernet_weights
from edgenas.search.spaces import load_space
from edgenas.search.supernet import Supernet
from edgenas.search.train_config import TrainConfig
from edgenas.search.train_run import run_training

FAST = ["--space", "tiny", "--dataset", "digits", "--batch-size", "16", "--train-subset", "48",
        "--calib-batches", "1", "--threads", "1", "--device", "cpu", "--no-progress"]


def _cfg(out: Path, **kw: Any) -> TrainConfig:
    base: dict[str, Any] = dict(space="tiny", dataset="digits", batch_size=16, train_subset=48, epochs=2,
                                calib_batches=1, eval_every=0, threads=1, device="cpu", progress=False,
                                out=str(out), lr=0.2, warmup_epochs=0.5)
    return TrainConfig(**(base | kw))


def test_cli_trains_and_writes_outputs(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["search", "train", *FAST, "--epochs", "2", "--out", str(out), "--json"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["epoch"] == 2 and 0 <= summary["val_top1_min"] <= 100
    assert {p.name for p in out.iterdir()} >= {"config.yaml", "log.jsonl", "log.csv", "last.pt", "supernet.pt"}
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and rows[-1]["step"] == 2 * 3
    assert "val_top1_max" in rows[0] and (out / "log.csv").read_text().startswith("epoch,step,lr")
    net, meta = load_supernet_weights(out / "supernet.pt", "tiny")
    assert meta["classes"] == [str(i) for i in range(10)] and net.num_classes == 10
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "--resume" in again.output


def test_cli_rejects_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("epochs: 1\nbogus: 3\n")
    res = CliRunner().invoke(cli, ["search", "train", "--config", str(bad), "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and "bogus" in res.output
    res = CliRunner().invoke(cli, ["search", "train", "--epochs", "zero"])
    assert res.exit_code == 2


def test_cli_reports_missing_resume_state(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["search", "train", *FAST, "--out", str(tmp_path / "none"), "--resume"])
    assert res.exit_code == 1 and "last.pt" in res.output


class Interrupt(Exception):
    pass


def _stop_at(step: int) -> Any:
    count = {"n": 0}

    def hook(epoch: int, in_epoch: int) -> None:
        count["n"] += 1
        if count["n"] == step:
            raise Interrupt

    return hook


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / "supernet.pt", weights_only=True)["state_dict"]


@pytest.fixture(scope="module")
def straight(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted run (extra checkpoints change nothing that is computed)."""
    out = tmp_path_factory.mktemp("straight") / "run"
    run_training(_cfg(out, checkpoint_every=1))
    return out


# 3 steps per epoch. (checkpoint_every, killed during step): resumed from step 2 (mid-epoch), from
# step 4 (mid-epoch), and from the end-of-epoch-1 checkpoint (step 3).
@pytest.mark.parametrize(("every", "kill_at"), [(1, 3), (1, 5), (0, 5)])
def test_resume_continues_the_same_run(straight: Path, tmp_path: Path, every: int, kill_at: int) -> None:
    broken = tmp_path / "broken"
    with pytest.raises(Interrupt):
        run_training(_cfg(broken, checkpoint_every=every), after_step=_stop_at(kill_at))
    assert not (broken / "supernet.pt").exists()
    resumed = run_training(_cfg(broken, checkpoint_every=every, resume=True))
    assert resumed["step"] == 6
    a, b = _weights(straight), _weights(broken)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6), k
    torch.manual_seed(0)
    init = Supernet(load_space("tiny"), 10).state_dict()
    assert not torch.allclose(init["stem.conv.weight"], a["stem.conv.weight"])  # it did train
    logged = [json.loads(line)["epoch"] for line in (broken / "log.jsonl").read_text().splitlines()]
    assert logged == [1, 2]


def test_resume_refuses_changed_settings(tmp_path: Path) -> None:
    out = tmp_path / "run"
    run_training(_cfg(out, epochs=1))
    with pytest.raises(ConfigError, match="lr"):
        run_training(_cfg(out, epochs=1, lr=0.5, resume=True))


def test_evaluate_gives_top1_and_mean_cross_entropy() -> None:
    from edgenas.search.train import evaluate, top1

    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1, 0, 2])

    class Fixed(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return logits[x[:, 0, 0, 0].long()]

    x = torch.arange(4.0).view(4, 1, 1, 1).expand(4, 3, 8, 8)
    batches = [(x[:3], labels[:3]), (x[3:], labels[3:])]
    got = evaluate(Fixed(), batches, 8, torch.device("cpu"))
    assert got["top1"] == 50.0 and top1(Fixed(), batches, 8, torch.device("cpu")) == 50.0
    assert got["ce"] == pytest.approx(float(torch.nn.functional.cross_entropy(logits, labels)))
