"""The predictor's input features: the chromosome (one-hot or normalized genes), optionally log MACs/params.

The encoding is fixed by ``FeatureConfig`` (saved with every predictor) and ``ENCODING_VERSION``; a
predictor only accepts chromosomes of exactly the genes and bounds it was trained on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edgenas.search.latency.errors import PredictorError

ENCODING_VERSION = 1
ENCODINGS = ("onehot", "normalized")


@dataclass(frozen=True)
class FeatureConfig:
    gene_names: tuple[str, ...]
    lows: tuple[int, ...]
    highs: tuple[int, ...]  # inclusive
    encoding: str = "onehot"
    use_macs: bool = True
    use_params: bool = False
    # standardisation of log-MACs / log-params, fitted on the training data
    scale: dict[str, float] = field(default_factory=dict)
    version: int = ENCODING_VERSION

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise PredictorError(f"unknown encoding {self.encoding!r}; choose one of {ENCODINGS}")
        if not (len(self.gene_names) == len(self.lows) == len(self.highs)):
            raise PredictorError("gene_names, lows and highs must have the same length")

    @property
    def n_features(self) -> int:
        n = sum(h - lo + 1 for lo, h in zip(self.lows, self.highs, strict=True)) if self.encoding == "onehot" \
            else len(self.gene_names)
        return n + int(self.use_macs) + int(self.use_params)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureConfig:
        if int(d.get("version", -1)) != ENCODING_VERSION:
            raise PredictorError(f"the predictor uses feature encoding version {d.get('version')!r}, this edgenas "
                                 f"reads version {ENCODING_VERSION}; retrain it with `edgenas search predictor train`")
        return cls(gene_names=tuple(d["gene_names"]), lows=tuple(int(v) for v in d["lows"]),
                   highs=tuple(int(v) for v in d["highs"]), encoding=str(d["encoding"]),
                   use_macs=bool(d["use_macs"]), use_params=bool(d["use_params"]),
                   scale={k: float(v) for k, v in dict(d.get("scale", {})).items()}, version=int(d["version"]))

    def with_scale(self, macs: np.ndarray, params: np.ndarray) -> FeatureConfig:
        lm, lp = np.log(macs), np.log(params)
        scale = {"macs_mean": float(lm.mean()), "macs_std": float(lm.std() or 1.0),
                 "params_mean": float(lp.mean()), "params_std": float(lp.std() or 1.0)}
        return FeatureConfig(self.gene_names, self.lows, self.highs, self.encoding, self.use_macs,
                             self.use_params, scale, self.version)


def check_genes(cfg: FeatureConfig, genes: np.ndarray) -> np.ndarray:
    genes = np.asarray(genes, dtype=np.int64)
    if genes.ndim != 2 or genes.shape[1] != len(cfg.gene_names):
        raise PredictorError(f"expected chromosomes of {len(cfg.gene_names)} genes, got an array of shape "
                             f"{genes.shape}; the architectures come from another space")
    lo, hi = np.asarray(cfg.lows), np.asarray(cfg.highs)
    bad = (genes < lo) | (genes > hi)
    if bad.any():
        row, col = map(int, np.argwhere(bad)[0])
        raise PredictorError(f"gene {cfg.gene_names[col]!r} = {genes[row, col]} is outside the range "
                             f"[{lo[col]}, {hi[col]}] the predictor was trained on; the space has changed: retrain")
    return genes


def encode_features(cfg: FeatureConfig, genes: np.ndarray, macs: np.ndarray | None = None,
                    params: np.ndarray | None = None) -> np.ndarray:
    """(n, n_genes) int chromosomes (+ MACs/params) -> (n, n_features) float32."""
    genes = check_genes(cfg, genes)
    lo, hi = np.asarray(cfg.lows), np.asarray(cfg.highs)
    if cfg.encoding == "normalized":
        parts = [(genes - lo) / np.maximum(hi - lo, 1)]
    else:
        parts = [np.eye(h - low + 1)[genes[:, j] - low] for j, (low, h) in enumerate(zip(lo, hi, strict=True))]
    for use, values, key in ((cfg.use_macs, macs, "macs"), (cfg.use_params, params, "params")):
        if not use:
            continue
        if values is None:
            raise PredictorError(f"this predictor uses {key} as a feature; pass the {key} of every architecture")
        values = np.asarray(values, dtype=np.float64)
        if (values <= 0).any() or not np.isfinite(values).all():
            raise PredictorError(f"{key} must be positive and finite for every architecture")
        parts.append(((np.log(values) - cfg.scale[f"{key}_mean"]) / cfg.scale[f"{key}_std"])[:, None])
    return np.concatenate(parts, axis=1).astype(np.float32)


def feature_config_for(space: Any, **kw: Any) -> FeatureConfig:
    """The feature layout of ``space``'s chromosome (``gene_names``, ``gene_bounds()`` -> (lows, highs))."""
    lows, highs = space.gene_bounds()
    return FeatureConfig(tuple(space.gene_names), tuple(int(v) for v in lows), tuple(int(v) for v in highs), **kw)
