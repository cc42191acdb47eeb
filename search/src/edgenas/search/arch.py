"""``ArchConfig``: one subnet of a search space, with a stable id and two JSON formats.

Our format: ``{"resolution", "widths", "depths", "kernel_sizes", "expand_ratios"}`` (optionally ``"space"``).
``widths`` = [stem, stage 1..N, head (feature mix)]; the other lists have one entry per stage.
AlphaNet's format: ``{"resolution", "width"[N+2], "depth"[N], "kernel_size"[N], "expand_ratio"[N]}``,
with extra keys (``model``, ``flops``, ``acc1``, ``net_id`` ...) ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgenas.runtime.errors import ConfigError

log = logging.getLogger(__name__)

OUR_KEYS = ("resolution", "widths", "depths", "kernel_sizes", "expand_ratios")
ALPHANET_KEYS = ("resolution", "width", "depth", "kernel_size", "expand_ratio")
# keys the AlphaNet eval / evo-search configs add; ignored with a debug log
_ALPHANET_EXTRA_OK = {"model", "flops", "params", "acc1", "acc5", "net_id", "loss", "name"}


class ArchError(ConfigError):
    """An architecture description (dict or JSON file) is malformed."""


@dataclass(frozen=True)
class ArchConfig:
    """A subnet: input resolution and per-stage choices (see the module docstring for the layout)."""

    resolution: int
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    kernel_sizes: tuple[int, ...]
    expand_ratios: tuple[int, ...]

    def __post_init__(self) -> None:
        n = len(self.depths)
        if not (len(self.kernel_sizes) == len(self.expand_ratios) == n and len(self.widths) == n + 2):
            raise ArchError(
                f"architecture lists do not fit together: {len(self.widths)} widths, {n} depths, "
                f"{len(self.kernel_sizes)} kernel_sizes, {len(self.expand_ratios)} expand_ratios; "
                "expected widths = stages + 2 (stem and head) and one depth/kernel/expand per stage"
            )

    @property
    def num_stages(self) -> int:
        return len(self.depths)

    def to_dict(self, space: str | None = None) -> dict[str, Any]:
        d: dict[str, Any] = {"space": space} if space else {}
        d.update({"resolution": self.resolution, "widths": list(self.widths), "depths": list(self.depths),
                  "kernel_sizes": list(self.kernel_sizes), "expand_ratios": list(self.expand_ratios)})
        return d

    def to_alphanet_dict(self) -> dict[str, Any]:
        return {"resolution": self.resolution, "width": list(self.widths), "depth": list(self.depths),
                "kernel_size": list(self.kernel_sizes), "expand_ratio": list(self.expand_ratios)}

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def arch_id(self) -> str:
        """12 hex digits of the sha256 of the canonical JSON: the same subnet always gets the same id."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:12]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ArchConfig:
        """Read our format or AlphaNet's (detected by its key names)."""
        if not isinstance(d, Mapping):
            raise ArchError(f"an architecture must be a JSON object, got {type(d).__name__}")
        if "widths" in d or "depths" in d:
            keys, extra_ok = OUR_KEYS, {"space", "arch_id"}
        elif "width" in d or "depth" in d:
            keys, extra_ok = ALPHANET_KEYS, _ALPHANET_EXTRA_OK
        else:
            raise ArchError(f"not an architecture: expected keys {list(OUR_KEYS)} (ours) or "
                            f"{list(ALPHANET_KEYS)} (AlphaNet), got {sorted(d)}")
        missing = [k for k in keys if k not in d]
        if missing:
            raise ArchError(f"architecture is missing {missing}; it needs all of {list(keys)}")
        extra = set(d) - set(keys)
        unknown = extra - extra_ok
        if unknown and keys == OUR_KEYS:
            raise ArchError(f"architecture has unknown keys {sorted(unknown)}; allowed: {list(OUR_KEYS)} and 'space'")
        if extra:
            log.debug("ignoring architecture keys %s", sorted(extra))
        return cls(
            resolution=_int(d[keys[0]], keys[0]),
            widths=_ints(d[keys[1]], keys[1]),
            depths=_ints(d[keys[2]], keys[2]),
            kernel_sizes=_ints(d[keys[3]], keys[3]),
            expand_ratios=_ints(d[keys[4]], keys[4]),
        )


def _int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int | float) or int(v) != v:
        raise ArchError(f"architecture field {name!r} must be an integer, got {v!r}")
    return int(v)


def _ints(v: Any, name: str) -> tuple[int, ...]:
    if not isinstance(v, Sequence) or isinstance(v, str):
        raise ArchError(f"architecture field {name!r} must be a list of integers, got {v!r}")
    return tuple(_int(x, f"{name}[{i}]") for i, x in enumerate(v))


def read_arch_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw JSON object of an architecture file, with clear errors for missing or malformed files."""
    p = Path(path)
    if not p.is_file():
        raise ArchError(f"architecture file {p} does not exist; pass a JSON file in our or AlphaNet's format")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArchError(f"architecture file {p} is not valid JSON ({exc}); fix the file") from exc
    if not isinstance(data, dict):
        raise ArchError(f"architecture file {p} must hold a JSON object, got {type(data).__name__}")
    return data


def load_arch(path: str | os.PathLike[str]) -> ArchConfig:
    """Read an architecture JSON file in either format."""
    data = read_arch_json(path)
    try:
        return ArchConfig.from_dict(data)
    except ArchError as exc:
        raise ArchError(f"{path}: {exc}") from exc
