"""The latency predictor: an ensemble of small MLPs on the chromosome, predicting log-latency.

Saved as a directory (written atomically): ``predictor.json`` (format, space, target, feature
encoding, target scaling, training metrics, baselines) and ``weights.pt`` (the members' state
dicts). Loading one made for another space or target raises ``PredictorError``.

By default the MLPs learn the residual of a FLOPs-linear fit (``log latency - log base(MACs)``, the
base fitted on the same training rows, floored at half the fastest training latency): where
latency is close to linear in MACs (ONNX Runtime on a CPU at larger inputs) the members only have
to learn the small departures from it, and a member that learns nothing falls back to the fit.

When the training data carries the Hailo context label (``multi_context``), an ensemble of
classifiers predicts the regime (single vs multi context) and the regressors take it as a
feature: trained on the measured label, used with the predicted one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgenas.runtime._io import atomic_directory, atomic_write_json
from edgenas.search.latency.dataset import LatencyData
from edgenas.search.latency.errors import PredictorError
from edgenas.search.latency.features import FeatureConfig, check_genes, encode_features

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
META_NAME, WEIGHTS_NAME = "predictor.json", "weights.pt"


@dataclass(frozen=True)
class Prediction:
    ms: np.ndarray  # ensemble prediction (geometric mean of the members), milliseconds
    std_ms: np.ndarray  # spread of the members, milliseconds
    p_multi: np.ndarray | None = None  # P(multi-context), when the predictor models the regime


class Predictor:
    def __init__(self, meta: dict[str, Any], features: FeatureConfig, regressors: list[Any],
                 classifiers: list[Any]) -> None:
        self.meta, self.features = meta, features
        self.regressors, self.classifiers = regressors, classifiers
        self._space: Any = None
        self._cost_cache: dict[tuple[int, ...], tuple[float, float]] = {}

    @property
    def space_name(self) -> str:
        return str(self.meta["space"])

    @property
    def target(self) -> str:
        return str(self.meta["target"])

    # -- prediction -------------------------------------------------------------------------
    def predict_genes(self, genes: np.ndarray, macs: np.ndarray | None = None,
                      params: np.ndarray | None = None) -> Prediction:
        genes = check_genes(self.features, np.asarray(genes, dtype=np.int64).reshape(len(genes), -1))
        base = self.meta.get("base")
        need = (self.features.use_macs or base) and macs is None or self.features.use_params and params is None
        if need:
            macs, params = self._costs(genes)
        x = encode_features(self.features, genes, macs, params)
        from edgenas.search.latency._mlp import run_members

        p_multi = None
        if self.classifiers:
            p_multi = (1.0 / (1.0 + np.exp(-run_members(self.classifiers, x)))).mean(axis=0)
            x = np.concatenate([x, (p_multi > 0.5).astype(np.float32)[:, None]], axis=1)
        z = run_members(self.regressors, x) * self.meta["y_std"] + self.meta["y_mean"]
        if base:
            z = z + np.log(base_ms(base, np.asarray(macs, dtype=np.float64)))[None, :]
        return Prediction(np.exp(z.mean(axis=0)), np.exp(z.mean(axis=0)) * z.std(axis=0), p_multi)

    def predict(self, items: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Predicted latency (ms) of architectures (ArchConfig objects) or chromosomes (int arrays), batched."""
        return self.predict_genes(self._to_genes(items)).ms

    def _to_genes(self, items: Sequence[Any] | np.ndarray) -> np.ndarray:
        if isinstance(items, np.ndarray) or (len(items) and not hasattr(items[0], "arch_id")):
            return np.asarray(items, dtype=np.int64).reshape(len(items), -1)
        space = self.space()
        return np.asarray([space.encode(a) for a in items], dtype=np.int64).reshape(len(items), -1)

    def space(self) -> Any:
        if self._space is None:
            from edgenas.search.spaces import load_space

            self._space = load_space(self.space_name)
        return self._space

    def _costs(self, genes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """MACs and params of each chromosome (computed through the space, cached)."""
        from edgenas.search.flops import count_flops_params

        space, out = self.space(), []
        for g in genes:
            key = tuple(int(v) for v in g)
            if key not in self._cost_cache:
                macs, params = count_flops_params(space, space.decode(list(key)), self.meta["num_classes"])
                self._cost_cache[key] = (float(macs), float(params))
            out.append(self._cost_cache[key])
        arr = np.asarray(out, dtype=np.float64).reshape(len(genes), 2)
        return arr[:, 0], arr[:, 1]

    # -- persistence ------------------------------------------------------------------------
    def save(self, out: str | Path, overwrite: bool = False) -> Path:
        import torch

        with atomic_directory(out, overwrite=overwrite) as tmp:
            torch.save({"regressors": [m.state_dict() for m in self.regressors],
                        "classifiers": [m.state_dict() for m in self.classifiers]}, tmp / WEIGHTS_NAME)
            atomic_write_json(tmp / META_NAME, {**self.meta, "features": self.features.to_dict()})
        return Path(out)

    @classmethod
    def load(cls, path: str | Path, *, space: str | None = None, target: str | None = None) -> Predictor:
        import json

        import torch

        from edgenas.search.latency._mlp import make_mlp

        path = Path(path)
        if not (path / META_NAME).is_file() or not (path / WEIGHTS_NAME).is_file():
            raise PredictorError(f"{path} is not a latency predictor (no {META_NAME} + {WEIGHTS_NAME}); "
                                 "train one with `edgenas search predictor train`")
        meta = json.loads((path / META_NAME).read_text(encoding="utf-8"))
        if meta.get("format_version") != FORMAT_VERSION:
            raise PredictorError(f"{path} has predictor format {meta.get('format_version')!r}, this edgenas reads "
                                 f"{FORMAT_VERSION}; retrain it")
        for key, want in (("space", space), ("target", target)):
            if want is not None and meta.get(key) != want:
                raise PredictorError(f"{path} was trained for {key} {meta.get(key)!r}, not {want!r}; train a "
                                     f"predictor on latencies of {key} {want!r} (edgenas search predictor train)")
        features = FeatureConfig.from_dict(meta.pop("features"))
        state = torch.load(path / WEIGHTS_NAME, map_location="cpu", weights_only=True)
        arch = meta["mlp"]
        n_in = features.n_features

        def build(sd: dict[str, Any], extra: int) -> Any:
            m = make_mlp(n_in + extra, arch["hidden"], arch["layers"])
            m.load_state_dict(sd)
            return m.eval()

        extra = 1 if state["classifiers"] else 0
        return cls(meta, features, [build(sd, extra) for sd in state["regressors"]],
                   [build(sd, 0) for sd in state["classifiers"]])


def base_ms(base: dict[str, Any], macs: np.ndarray) -> np.ndarray:
    """The FLOPs-linear base of a residual predictor, floored (``meta["base"]``)."""
    from edgenas.search.latency.baselines import FlopsLinear

    return np.maximum(FlopsLinear.from_dict(base).predict(macs), base["floor_ms"])


def train_predictor(data: LatencyData, features: FeatureConfig, *, space: str, target: str,
                    num_classes: int, seed: int = 0, ensemble: int = 5, settings: Any = None,
                    residual: bool = True) -> Predictor:
    """Fit an ensemble on ``data`` (log latency, or its residual to a FLOPs-linear fit); each member
    has its own validation split."""
    import torch

    from edgenas.search.latency._mlp import TrainSettings, fit_member

    settings = settings or TrainSettings()
    if len(data) < 10:
        raise PredictorError(f"only {len(data)} measured architectures; train on at least 10 (better 100+)")
    if ensemble < 1:
        raise PredictorError("--ensemble must be >= 1")
    torch.set_num_threads(1)
    features = features.with_scale(data.columns["macs"], data.columns["params"])
    x = encode_features(features, data.genes, data.columns["macs"], data.columns["params"])
    y_log = np.log(data.latency_ms)
    base = None
    if residual:
        from edgenas.search.latency.baselines import FlopsLinear

        base = {**FlopsLinear.fit(data.columns["macs"], data.latency_ms).to_dict(),
                "floor_ms": 0.5 * float(data.latency_ms.min())}
        y_log = y_log - np.log(base_ms(base, data.columns["macs"]))
    y_mean, y_std = float(y_log.mean()), float(y_log.std() or 1.0)
    classifiers, stats = [], []
    if data.has_context_label:
        label = data.columns["multi_context"].astype(np.float32)
        classifiers = [fit_member(x, label, seed=seed + 1000 + i, settings=settings, classify=True)[0]
                       for i in range(ensemble)]
        x = np.concatenate([x, label[:, None]], axis=1)
    regressors = []
    for i in range(ensemble):
        model, st = fit_member(x, (y_log - y_mean) / y_std, seed=seed + i, settings=settings)
        regressors.append(model)
        stats.append(st)
        log.info("member %d/%d: val loss %.4g after %d epochs", i + 1, ensemble, st["val_loss"], st["epochs"])
    meta = {"format_version": FORMAT_VERSION, "space": space, "target": target, "num_classes": num_classes,
            "predicts": data.target_column, "y_transform": "log" if base is None else "log residual of base",
            "base": base, "y_mean": y_mean, "y_std": y_std,
            "ensemble": ensemble, "seed": seed, "regime_classifier": bool(classifiers),
            "mlp": {"hidden": settings.hidden, "layers": settings.layers}, "train_settings": asdict(settings),
            "n_train": len(data), "members": stats}
    return Predictor(meta, features, regressors, classifiers)
