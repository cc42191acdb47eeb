"""Search spaces: defined in YAML (package data ``space_defs/*.yaml``), with the chromosome encoding.

A chromosome is one integer per gene: the index of the chosen value in that gene's candidate list.
Gene order: resolution; widths (stem, stage 1..N, head); depths; kernel sizes; expand ratios
(the order of AlphaNet's own sampler). Genes with a single candidate stay in the encoding
(bounds 0..0) so that every space of the same shape has the same gene layout.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from edgenas.runtime.errors import ConfigError
from edgenas.search.arch import ArchConfig

BUILTIN_SPACES = ("alphanet", "cifar", "tiny")
_SPACE_KEYS = {"name", "description", "num_classes", "preprocessing", "resolutions", "stem", "stages", "head"}
_STAGE_KEYS = {"name", "widths", "depths", "kernel_sizes", "expand_ratios", "stride", "se"}


class SearchSpaceError(ConfigError):
    """A search space definition is invalid, or an architecture / chromosome lies outside it."""


@dataclass(frozen=True)
class StageSpec:
    name: str
    widths: tuple[int, ...]
    depths: tuple[int, ...]
    kernel_sizes: tuple[int, ...]
    expand_ratios: tuple[int, ...]
    stride: int
    se: bool


@dataclass(frozen=True)
class SearchSpace:
    name: str
    resolutions: tuple[int, ...]
    stem_widths: tuple[int, ...]
    stem_kernel: int
    stem_stride: int
    stages: tuple[StageSpec, ...]
    head_widths: tuple[int, ...]
    final_expand_ratio: int
    num_classes: int
    mean_pixel: tuple[float, float, float]
    std_pixel: tuple[float, float, float]
    description: str = ""

    # ---- genes -------------------------------------------------------------------------
    @property
    def gene_names(self) -> tuple[str, ...]:
        st = [s.name for s in self.stages]
        return tuple(["resolution", "width.stem", *(f"width.{n}" for n in st), "width.head",
                      *(f"depth.{n}" for n in st), *(f"kernel_size.{n}" for n in st),
                      *(f"expand_ratio.{n}" for n in st)])

    @property
    def gene_choices(self) -> tuple[tuple[int, ...], ...]:
        s = self.stages
        return (self.resolutions, self.stem_widths, *(x.widths for x in s), self.head_widths,
                *(x.depths for x in s), *(x.kernel_sizes for x in s), *(x.expand_ratios for x in s))

    @property
    def num_genes(self) -> int:
        return len(self.gene_choices)

    def gene_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        upper = np.array([len(c) - 1 for c in self.gene_choices], dtype=np.int64)
        return np.zeros_like(upper), upper

    def _values(self, arch: ArchConfig) -> tuple[int, ...]:
        return (arch.resolution, *arch.widths, *arch.depths, *arch.kernel_sizes, *arch.expand_ratios)

    def encode(self, arch: ArchConfig) -> np.ndarray:
        self.validate(arch)
        return np.array([c.index(v) for c, v in zip(self.gene_choices, self._values(arch), strict=True)],
                        dtype=np.int64)

    def decode(self, genes: Sequence[int] | np.ndarray) -> ArchConfig:
        g = np.asarray(genes)
        if g.ndim != 1 or g.shape[0] != self.num_genes:
            raise SearchSpaceError(f"a chromosome of space {self.name!r} has {self.num_genes} genes, got shape "
                                   f"{tuple(g.shape)}; encode architectures with this space")
        if not np.issubdtype(g.dtype, np.integer) and (not np.all(np.isfinite(g)) or np.any(np.mod(g, 1) != 0)):
            raise SearchSpaceError(f"chromosome genes must be integers, got {g.tolist()}; round them first")
        vals = []
        for name, choices, x in zip(self.gene_names, self.gene_choices, g.tolist(), strict=True):
            i = int(x)
            if not 0 <= i < len(choices):
                raise SearchSpaceError(f"gene {name!r} = {i} is out of range 0..{len(choices) - 1} "
                                       f"(candidates {list(choices)}) in space {self.name!r}")
            vals.append(choices[i])
        return self._from_values(vals)

    def _from_values(self, vals: Sequence[int]) -> ArchConfig:
        n = len(self.stages)
        return ArchConfig(resolution=vals[0], widths=tuple(vals[1:n + 3]), depths=tuple(vals[n + 3:2 * n + 3]),
                          kernel_sizes=tuple(vals[2 * n + 3:3 * n + 3]), expand_ratios=tuple(vals[3 * n + 3:]))

    # ---- membership ----------------------------------------------------------------------
    def validate(self, arch: ArchConfig) -> ArchConfig:
        n = len(self.stages)
        if arch.num_stages != n:
            raise SearchSpaceError(f"architecture has {arch.num_stages} stages, space {self.name!r} has {n} "
                                   "; it belongs to another space (check --space)")
        for name, choices, v in zip(self.gene_names, self.gene_choices, self._values(arch), strict=True):
            if v not in choices:
                raise SearchSpaceError(f"{name} = {v} is not in space {self.name!r}: candidates are {list(choices)}")
        return arch

    def contains(self, arch: ArchConfig) -> bool:
        try:
            self.validate(arch)
        except SearchSpaceError:
            return False
        return True

    # ---- sampling ------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> ArchConfig:
        _, upper = self.gene_bounds()
        return self.decode(np.array([rng.integers(0, u + 1) for u in upper], dtype=np.int64))

    def min_arch(self) -> ArchConfig:
        return self._from_values([min(c) for c in self.gene_choices])

    def max_arch(self) -> ArchConfig:
        return self._from_values([max(c) for c in self.gene_choices])

    def size(self) -> int:
        return int(np.prod([len(c) for c in self.gene_choices], dtype=object))

    @property
    def max_depths(self) -> tuple[int, ...]:
        return tuple(max(s.depths) for s in self.stages)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "num_genes": self.num_genes, "gene_names": list(self.gene_names),
                "gene_choices": [list(c) for c in self.gene_choices]}


# ---- loading -------------------------------------------------------------------------------
def _ints(v: Any, where: str, positive: bool = True) -> tuple[int, ...]:
    if isinstance(v, int) and not isinstance(v, bool):
        v = [v]
    if not isinstance(v, list) or not v or not all(isinstance(x, int) and not isinstance(x, bool) for x in v):
        raise SearchSpaceError(f"{where} must be a non-empty list of integers, got {v!r}")
    if positive and min(v) <= 0:
        raise SearchSpaceError(f"{where} must be positive, got {v!r}")
    if len(set(v)) != len(v):
        raise SearchSpaceError(f"{where} lists a value twice: {v!r}")
    return tuple(sorted(v))


def _check_keys(d: Any, allowed: set[str], where: str) -> Mapping[str, Any]:
    if not isinstance(d, Mapping):
        raise SearchSpaceError(f"{where} must be a mapping, got {type(d).__name__}")
    unknown = set(d) - allowed
    if unknown:
        raise SearchSpaceError(f"{where} has unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
    return d


def _stage(d: Any, i: int, src: str) -> StageSpec:
    where = f"{src}: stages[{i}]"
    d = _check_keys(d, _STAGE_KEYS, where)
    missing = _STAGE_KEYS - set(d) - {"se"}
    if missing:
        raise SearchSpaceError(f"{where} is missing {sorted(missing)}")
    ks = _ints(d["kernel_sizes"], f"{where}.kernel_sizes")
    if any(k % 2 == 0 for k in ks):
        raise SearchSpaceError(f"{where}.kernel_sizes must be odd, got {list(ks)}")
    if d["stride"] not in (1, 2):
        raise SearchSpaceError(f"{where}.stride must be 1 or 2, got {d['stride']!r}")
    return StageSpec(name=str(d["name"]), widths=_ints(d["widths"], f"{where}.widths"),
                     depths=_ints(d["depths"], f"{where}.depths"), kernel_sizes=ks,
                     expand_ratios=_ints(d["expand_ratios"], f"{where}.expand_ratios"),
                     stride=int(d["stride"]), se=bool(d.get("se", False)))


def space_from_dict(d: Any, src: str = "<dict>") -> SearchSpace:
    d = _check_keys(d, _SPACE_KEYS, src)
    missing = {"name", "resolutions", "stem", "stages", "head"} - set(d)
    if missing:
        raise SearchSpaceError(f"{src} is missing {sorted(missing)}")
    stem = _check_keys(d["stem"], {"widths", "kernel_size", "stride"}, f"{src}: stem")
    head = _check_keys(d["head"], {"widths", "final_expand_ratio"}, f"{src}: head")
    pre = _check_keys(d.get("preprocessing", {}), {"mean_pixel", "std_pixel"}, f"{src}: preprocessing")
    if not isinstance(d["stages"], list) or not d["stages"]:
        raise SearchSpaceError(f"{src}: stages must be a non-empty list")
    stages = tuple(_stage(s, i, src) for i, s in enumerate(d["stages"]))
    if len({s.name for s in stages}) != len(stages):
        raise SearchSpaceError(f"{src}: stage names must be unique")
    return SearchSpace(
        name=str(d["name"]), description=str(d.get("description", "")),
        resolutions=_ints(d["resolutions"], f"{src}: resolutions"),
        stem_widths=_ints(stem.get("widths"), f"{src}: stem.widths"),
        stem_kernel=int(stem.get("kernel_size", 3)), stem_stride=int(stem.get("stride", 2)),
        stages=stages, head_widths=_ints(head.get("widths"), f"{src}: head.widths"),
        final_expand_ratio=int(head.get("final_expand_ratio", 6)),
        num_classes=int(d.get("num_classes", 1000)),
        mean_pixel=tuple(float(x) for x in pre.get("mean_pixel", (0.0, 0.0, 0.0))),  # type: ignore[arg-type]
        std_pixel=tuple(float(x) for x in pre.get("std_pixel", (255.0, 255.0, 255.0))),  # type: ignore[arg-type]
    )


def list_spaces() -> tuple[str, ...]:
    return BUILTIN_SPACES


def load_space(name: str | os.PathLike[str]) -> SearchSpace:
    """A built-in space by name (``alphanet``, ``cifar``, ``tiny``) or a YAML file by path."""
    key = str(name)
    if key in BUILTIN_SPACES:
        text = resources.files("edgenas.search").joinpath("space_defs", f"{key}.yaml").read_text(encoding="utf-8")
        src = f"space {key}"
    elif key.endswith((".yaml", ".yml")) or os.sep in key:
        path = Path(key)
        if not path.is_file():
            raise SearchSpaceError(f"search space file {path} does not exist")
        text, src = path.read_text(encoding="utf-8"), str(path)
    else:
        raise SearchSpaceError(f"unknown search space {key!r}; choose one of {list(BUILTIN_SPACES)} "
                               "or pass the path of a YAML file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SearchSpaceError(f"{src} is not valid YAML: {exc}") from exc
    return space_from_dict(data, src)
