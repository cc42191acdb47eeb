"""Loading the official AlphaNet / AttentiveNAS supernet checkpoint (``alphanet_pretrained.pth.tar``).

The file is a dict whose ``state_dict`` holds ``module.``-prefixed keys with doubled wrapper names
(``.conv.conv.``, ``.bn.bn.``, ``classifier.linear.linear``), unused ``bn_tracking`` buffers and dead
1x1 shortcut convs on every non-first block (reference/alphanet.md §b, §f). It may be in the legacy
(non-zip) format and carry pickled training state (an ``args`` Config object).

Loading never unpickles arbitrary objects: first ``torch.load(weights_only=True)``; if that refuses a
foreign class, a restricted unpickler that builds only tensors, storages and plain containers and
replaces every other class by an inert placeholder (never importing or calling it).
The weights are CC BY-NC 4.0: this loader reads a file the user supplies; nothing is bundled.
"""

from __future__ import annotations

import collections
import logging
import os
import pickle
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from edgenas.runtime.errors import ModelError

if TYPE_CHECKING:
    from edgenas.search.supernet import Supernet

log = logging.getLogger(__name__)


class CheckpointFormatError(ModelError):
    """A checkpoint file is missing, corrupt, or does not fit the supernet."""


# ---- restricted unpickling ---------------------------------------------------------------------
_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
}
_DTYPES = {name for name in dir(torch) if isinstance(getattr(torch, name, None), torch.dtype)}


class Skipped:
    """Stands in for a pickled object of a class we refuse to build (e.g. AlphaNet's ``args`` Config)."""

    qualname = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"<skipped {self.qualname}>"


class RestrictedUnpickler(pickle.Unpickler):
    skipped: list[str] = []

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _DTYPES:
            return getattr(torch, name)
        qual = f"{module}.{name}"
        RestrictedUnpickler.skipped.append(qual)
        return type("Skipped", (Skipped,), {"qualname": qual})


class _RestrictedPickleModule:
    """What ``torch.load(pickle_module=...)`` needs: ``Unpickler`` and ``load``."""

    Unpickler = RestrictedUnpickler
    UnpicklingError = pickle.UnpicklingError

    @staticmethod
    def load(f: Any, **kwargs: Any) -> Any:
        return RestrictedUnpickler(f, **kwargs).load()


def safe_load(path: str | os.PathLike[str]) -> Any:
    """Read a PyTorch file (zip or legacy) without ever building arbitrary pickled objects."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointFormatError(f"checkpoint {p} does not exist; pass the path of the weights file")
    try:
        return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        log.info("weights_only load refused %s (%s); retrying with the restricted unpickler",
                 p, str(exc).splitlines()[0][:120])
    except Exception as exc:
        raise _corrupt(p, exc) from exc
    RestrictedUnpickler.skipped = []
    try:
        obj = torch.load(p, map_location="cpu", weights_only=False, pickle_module=_RestrictedPickleModule)
    except Exception as exc:
        raise _corrupt(p, exc) from exc
    if RestrictedUnpickler.skipped:
        log.info("skipped pickled objects of classes %s in %s", sorted(set(RestrictedUnpickler.skipped)), p)
    return obj


def _corrupt(p: Path, exc: Exception) -> CheckpointFormatError:
    return CheckpointFormatError(f"cannot read checkpoint {p} ({type(exc).__name__}: {str(exc)[:200]}); the file "
                                 "is corrupt, truncated or not a PyTorch checkpoint — download or re-create it")


# ---- key mapping: AlphaNet -> ours ---------------------------------------------------------------
_RENAMES = (  # applied in order to each key once ``module.`` is stripped and blocks are renumbered
    (".mobile_inverted_conv.inverted_bottleneck.", ".expand."),
    (".mobile_inverted_conv.depth_conv.se.fc.", ".se."),
    (".mobile_inverted_conv.depth_conv.", ".dw."),
    (".mobile_inverted_conv.point_linear.", ".project."),
    (".shortcut.conv.conv.", ".shortcut."),
    ("first_conv.", "stem."),
    ("last_conv.final_expand_layer.", "head.final_expand."),
    ("last_conv.feature_mix_layer.conv.conv.", "head.feature_mix."),
    ("classifier.linear.linear.", "classifier."),
    (".conv.conv.", ".conv."),
    (".bn.bn.", ".bn."),
)
_BLOCK = re.compile(r"^blocks\.(\d+)\.")
_DEAD_SHORTCUT = re.compile(r"^blocks\.\d+\.[1-9]\d*\.shortcut\.weight$")


def is_alphanet_state_dict(sd: dict[str, Any]) -> bool:
    return any(k.startswith("module.") and (".conv.conv." in k or ".bn.bn." in k) for k in sd)


def map_alphanet_keys(sd: dict[str, Tensor], max_depths: tuple[int, ...]) -> dict[str, tuple[str, Tensor]]:
    """Our key -> (AlphaNet key, tensor); drops the unused ``bn_tracking`` buffers."""
    starts = [sum(max_depths[:s]) for s in range(len(max_depths))]
    total = sum(max_depths)
    out: dict[str, tuple[str, Tensor]] = {}
    for key, value in sd.items():
        k = key[len("module."):] if key.startswith("module.") else key
        if ".bn_tracking." in k:
            continue
        m = _BLOCK.match(k)
        if m:
            i = int(m.group(1))
            if i >= total:
                raise CheckpointFormatError(f"checkpoint key {key!r}: block {i} does not exist in a space with "
                                            f"{total} blocks; the checkpoint is for another search space")
            s = max(t for t in range(len(starts)) if starts[t] <= i)
            k = f"blocks.{s}.{i - starts[s]}." + k[m.end():]
        for old, new in _RENAMES:
            k = k.replace(old, new)
        out[k] = (key, value)
    return out


def _state_dict_of(obj: Any, path: Path) -> dict[str, Tensor]:
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not is_alphanet_state_dict(obj):
        raise CheckpointFormatError(f"{path} is not an AlphaNet/AttentiveNAS checkpoint (no 'state_dict' with "
                                    "'module.'-prefixed keys); pass alphanet_pretrained.pth.tar or an edgenas "
                                    "supernet.pt")
    return obj


def load_alphanet_checkpoint(path: str | os.PathLike[str], supernet: Supernet, *, loaded: Any = None) -> Supernet:
    """Copy the official checkpoint's weights and BN statistics into ``supernet`` (an alphanet ``Supernet``).

    ``loaded``: the object ``safe_load(path)`` already returned, to avoid reading the file twice.
    """
    p = Path(path)
    sd = _state_dict_of(safe_load(p) if loaded is None else loaded, p)
    mapped = map_alphanet_keys(sd, supernet.space.max_depths)
    ours = supernet.state_dict()
    name = supernet.space.name
    for k, (orig, _) in mapped.items():
        if k in ours or _DEAD_SHORTCUT.match(k):
            continue  # dead identity-shortcut convs of non-first blocks are never used
        raise CheckpointFormatError(f"checkpoint key {orig!r} (ours: {k!r}) has no place in space {name!r}; "
                                    "the checkpoint is for another space")
    state = {}
    for k, want in ours.items():
        if k not in mapped:
            raise CheckpointFormatError(f"checkpoint {p} lacks the tensor for {k!r} (shape {list(want.shape)}); it "
                                        "is not a full AlphaNet supernet checkpoint or is for another space")
        orig, got = mapped[k]
        if not isinstance(got, Tensor) or tuple(got.shape) != tuple(want.shape):
            shape = list(got.shape) if isinstance(got, Tensor) else type(got).__name__
            raise CheckpointFormatError(f"checkpoint key {orig!r} has shape {shape}, the {name!r} supernet needs "
                                        f"{list(want.shape)} (ours: {k!r}); the checkpoint is for another space "
                                        "or class count")
        state[k] = got.float() if got.is_floating_point() else got
    supernet.load_state_dict(state, strict=True)
    log.info("loaded AlphaNet checkpoint %s (%d tensors; CC BY-NC 4.0, non-commercial use only)", p, len(state))
    return supernet
