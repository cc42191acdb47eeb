"""Checkpoints: supernet.pt round trip and its errors, RNG state round trip, atomic writes."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from edgenas.search import checkpoint as ckpt
from edgenas.search.checkpoint import CheckpointError, load_supernet_weights, save_supernet_weights
from edgenas.search.spaces import load_space
from edgenas.search.supernet import Supernet


@pytest.fixture(scope="module")
def tiny_net() -> Supernet:
    torch.manual_seed(0)
    return Supernet(load_space("tiny"), 4)


def test_supernet_weights_round_trip(tiny_net: Supernet, tmp_path: Path) -> None:
    path = save_supernet_weights(tmp_path / "supernet.pt", tiny_net, tiny_net.space, ["a", "b", "c", "d"],
                                 {"epochs": 1})
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "edgenas-supernet" and raw["space"] == "tiny" and raw["num_classes"] == 4
    net, meta = load_supernet_weights(path, "tiny")
    assert meta["classes"] == ["a", "b", "c", "d"] and meta["train"] == {"epochs": 1}
    for k, v in tiny_net.state_dict().items():
        assert torch.equal(v, net.state_dict()[k])
    x = torch.randn(2, 3, 24, 24)
    tiny_net.eval(), net.eval()
    assert torch.equal(tiny_net(x), net(x))


def test_wrong_space_is_named(tiny_net: Supernet, tmp_path: Path) -> None:
    path = save_supernet_weights(tmp_path / "s.pt", tiny_net, tiny_net.space, list("abcd"))
    with pytest.raises(CheckpointError, match="space 'tiny', not 'cifar'"):
        load_supernet_weights(path, "cifar")


def test_shape_mismatch_and_other_formats(tiny_net: Supernet, tmp_path: Path) -> None:
    path = save_supernet_weights(tmp_path / "s.pt", tiny_net, tiny_net.space, list("abcd"))
    obj = torch.load(path, weights_only=True)
    obj["state_dict"]["classifier.weight"] = torch.zeros(4, 7)
    ckpt.save_atomic(obj, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_supernet_weights(tmp_path / "bad.pt", "tiny")
    ckpt.save_atomic({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an edgenas supernet"):
        load_supernet_weights(tmp_path / "other.pt", "tiny")


def test_corrupt_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_supernet_weights(tmp_path / "junk.pt", "tiny")
    with pytest.raises(CheckpointError, match="does not exist"):
        load_supernet_weights(tmp_path / "none.pt", "tiny")


def test_pickled_objects_are_refused(tmp_path: Path) -> None:
    import argparse

    torch.save({"format": "edgenas-supernet", "args": argparse.Namespace(x=1)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError):
        load_supernet_weights(tmp_path / "evil.pt", "tiny")


def test_rng_state_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    ckpt.save_atomic({"rng": ckpt.rng_state()}, tmp_path / "rng.pt")
    first = (torch.rand(3), np.random.rand(3), random.random())
    ckpt.set_rng_state(ckpt.load_safely(tmp_path / "rng.pt")["rng"])
    again = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1]) and first[2] == again[2]


def test_atomic_save_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt.save_atomic({"a": torch.ones(2)}, tmp_path / "last.pt")

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(OSError):
        ckpt.save_atomic({"a": torch.zeros(2)}, tmp_path / "last.pt")
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]
    assert torch.equal(ckpt.load_safely(tmp_path / "last.pt")["a"], torch.ones(2))
