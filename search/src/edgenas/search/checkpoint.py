"""Checkpoints: resumable training state (``last.pt``) and final supernet weights (``supernet.pt``).

Both are written atomically (temp file + rename) and read with ``torch.load(weights_only=True)``,
so a killed run never leaves a half-written file and loading never unpickles arbitrary objects.

``supernet.pt`` = ``{"format": "edgenas-supernet", "version": 1, "space": name, "num_classes": n,
"classes": [...], "state_dict": {...}}`` (+ ``"arch_space"``, the space's gene table, and
``"train"``, a summary of the run). :func:`load_supernet_weights` reads it back into a ``Supernet``.
"""

from __future__ import annotations

import io
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from edgenas.runtime._io import atomic_write_bytes
from edgenas.runtime.errors import ModelError

SUPERNET_FORMAT = "edgenas-supernet"
STATE_FORMAT = "edgenas-train-state"
VERSION = 1


class CheckpointError(ModelError):
    """A checkpoint is missing, corrupt, of another kind, or does not fit the search space."""


def save_atomic(obj: dict[str, Any], path: str | os.PathLike[str]) -> Path:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_safely(path: str | os.PathLike[str]) -> dict[str, Any]:
    """``torch.load(weights_only=True)`` with errors that name the file and the fix."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"checkpoint {p} does not exist; check the path (or train one with "
                              "`edgenas search train`)")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt zip, truncated file, disallowed pickled globals, ...
        raise CheckpointError(f"cannot read checkpoint {p} ({type(exc).__name__}: {exc}); the file is corrupt "
                              "or not a PyTorch checkpoint — re-create it") from exc
    if not isinstance(obj, dict):
        raise CheckpointError(f"checkpoint {p} holds a {type(obj).__name__}, not a dict; re-create it")
    return obj


# ---- RNG states (plain tensors and ints, so weights_only loading accepts them) ------------------
def rng_state() -> dict[str, Any]:
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
                  "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": int(version), "internal": list(internal), "gauss": gauss},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ---- training state ----------------------------------------------------------------------------
def save_train_state(path: str | os.PathLike[str], *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                     scheduler: Any, epoch: int, step: int, step_in_epoch: int, config: dict[str, Any],
                     history: list[dict[str, Any]], meta: dict[str, Any]) -> Path:
    """``epoch``/``step_in_epoch``: where the next step starts; ``step``: optimizer steps done."""
    return save_atomic({
        "format": STATE_FORMAT, "version": VERSION, "epoch": epoch, "step": step,
        "step_in_epoch": step_in_epoch, "config": config, "history": history, "meta": meta,
        "model": model.state_dict(), "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(), "rng": rng_state(),
    }, path)


def load_train_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    state = load_safely(path)
    if state.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} is not a training state ({state.get('format')!r}); resume from the "
                              "run's last.pt")
    return state


# ---- final supernet weights ------------------------------------------------------------------------
def save_supernet_weights(path: str | os.PathLike[str], model: torch.nn.Module, space: Any,
                          classes: list[str], extra: dict[str, Any] | None = None) -> Path:
    state_dict = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return save_atomic({
        "format": SUPERNET_FORMAT, "version": VERSION, "space": space.name,
        "num_classes": len(classes), "classes": list(classes), "arch_space": space.to_dict(),
        "state_dict": state_dict, "train": extra or {},
    }, path)


def load_supernet_weights(path: str | os.PathLike[str], space: Any) -> tuple[Any, dict[str, Any]]:
    """Build a ``Supernet`` of ``space`` (a name or a ``SearchSpace``) with the weights in ``path``.

    Returns ``(supernet, meta)``; meta holds ``space``, ``num_classes``, ``classes``, ``train``.
    """
    from edgenas.search.spaces import load_space
    from edgenas.search.supernet import Supernet

    sp = load_space(space) if isinstance(space, str | os.PathLike) else space
    ckpt = load_safely(path)
    if ckpt.get("format") != SUPERNET_FORMAT:
        raise CheckpointError(f"{path} is not an edgenas supernet file (format {ckpt.get('format')!r}); pass "
                              "the supernet.pt a training run wrote (or the official AlphaNet checkpoint to "
                              "the AlphaNet loader)")
    if ckpt.get("space") != sp.name:
        raise CheckpointError(f"{path} holds a supernet of space {ckpt.get('space')!r}, not {sp.name!r}; "
                              f"pass --space {ckpt.get('space')} or the weights of a {sp.name!r} supernet")
    if "arch_space" in ckpt and ckpt["arch_space"].get("gene_choices") != sp.to_dict()["gene_choices"]:
        raise CheckpointError(f"{path} was trained on a different definition of space {sp.name!r} (its "
                              "candidate lists differ); use the space file it was trained with")
    net = Supernet(sp, int(ckpt["num_classes"]))
    try:
        net.load_state_dict(ckpt["state_dict"], strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path} does not fit space {sp.name!r} ({str(exc).splitlines()[0]} ...); "
                              "it was trained with another space or class count") from exc
    meta = {k: ckpt[k] for k in ("space", "num_classes", "classes")} | {"train": ckpt.get("train", {})}
    return net, meta
