"""What ``edgenas search predictor train`` and ``report`` do (the CLI only parses options)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from edgenas.runtime._io import atomic_write_json, atomic_write_text, sha256_file
from edgenas.search.latency.dataset import LatencyData, load_datasets, read_metadata, write_latency_csv
from edgenas.search.latency.errors import LatencyError, PredictorError
from edgenas.search.latency.report import format_table, metrics

log = logging.getLogger(__name__)


def split_holdout(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n)
    n_test = int(round(fraction * n))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def train_command(data_files: list[str], space_name: str, target: str, out: Path, *, seed: int, ensemble: int,
                  holdout: float, encoding: str, use_macs: bool, use_params: bool, max_epochs: int,
                  overwrite: bool, latency_column: str = "auto", residual: bool = True) -> dict[str, Any]:
    from edgenas.runtime.errors import EdgeNasError
    from edgenas.search.latency._mlp import TrainSettings
    from edgenas.search.latency.baselines import FlopsLinear
    from edgenas.search.latency.features import feature_config_for
    from edgenas.search.latency.predictor import train_predictor
    from edgenas.search.spaces import load_space

    if out.exists() and not overwrite:
        raise EdgeNasError(f"{out} already exists; choose another --out or pass --overwrite")
    space = load_space(space_name)
    data = with_latency_column(load_datasets(data_files, space=space.name, target=target), latency_column)
    if tuple(data.gene_names) != tuple(space.gene_names):
        raise PredictorError(f"the data's genes {data.gene_names[:3]}… are not space {space.name!r}'s chromosome; "
                             "pass --space of the space the data was measured on")
    num_classes = _num_classes(data_files, space)
    tr, te = split_holdout(len(data), holdout, seed)
    train_data = data.subset(tr)
    t0 = time.perf_counter()
    pred = train_predictor(train_data, feature_config_for(space, encoding=encoding, use_macs=use_macs,
                                                          use_params=use_params),
                           space=space.name, target=target, num_classes=num_classes, seed=seed,
                           ensemble=ensemble, settings=TrainSettings(max_epochs=max_epochs), residual=residual)
    flin = FlopsLinear.fit(train_data.columns["macs"], train_data.latency_ms)
    pred.meta.update(
        ms_per_unit=data.target_scale, train_seconds=round(time.perf_counter() - t0, 2), holdout_fraction=holdout,
        data=[{"path": str(p), "sha256": sha256_file(p)} for p in data_files],
        baselines={"flops_linear": flin.to_dict()},
        metrics={"train": metrics(train_data.latency_ms, _predict(pred, train_data))})
    if len(te) >= 2:
        test = data.subset(te)
        pred.meta["metrics"]["holdout"] = metrics(test.latency_ms, _predict(pred, test))
    pred.save(out, overwrite=overwrite)
    atomic_write_text(out / "train_ids.txt", "".join(a + "\n" for a in train_data.arch_ids))
    if len(te):
        write_latency_csv(data.subset(te), out / "heldout.csv")
    return {"out": str(out), "n_train": len(tr), "n_holdout": len(te), "metrics": pred.meta["metrics"],
            "train_seconds": pred.meta["train_seconds"]}


def with_latency_column(data: LatencyData, column: str) -> LatencyData:
    """Choose what the predictor learns. ``auto``: the paired ratio when every row has it, else p50.

    The ratio (this network's p50 / the reference network's p50, same rotation) is learned in
    milliseconds: times one scale, the median reference p50 over the data, so predictions are in
    ms and machine-wide speed changes between measurement runs do not enter the labels.
    """
    if column == "auto":
        column = "latency_ratio" if data.complete("latency_ratio") else "latency_p50_ms"
    if column != "latency_ratio":
        return data.with_target(column)
    if not data.complete("reference_p50_ms"):
        raise LatencyError("the data set has latency_ratio but no reference_p50_ms in every row (measured by an "
                           "older edgenas); re-measure it, or pass --latency-column latency_p50_ms")
    return data.with_target(column, float(np.median(data.columns["reference_p50_ms"])))


def _scaled(pred: Any, data: LatencyData) -> LatencyData:
    """``data`` with the predictor's latency column, on the predictor's ms scale."""
    return data.with_target(pred.meta["predicts"], float(pred.meta.get("ms_per_unit", 1.0)))


def _num_classes(data_files: list[str], space: Any) -> int:
    values = {int(v) for p in data_files if (v := (read_metadata(p) or {}).get("num_classes")) is not None}
    if len(values) > 1:
        raise PredictorError(f"the data sets were measured with different num_classes {sorted(values)}")
    return int(values.pop()) if values else int(space.num_classes)


def _training_rows(pred: Any, predictor_dir: Path) -> LatencyData | None:
    """The predictor's training rows, when its data files are still where training read them."""
    paths = [d["path"] for d in pred.meta.get("data", [])]
    ids_file = predictor_dir / "train_ids.txt"
    if not paths or not all(Path(p).is_file() for p in paths) or not ids_file.is_file():
        log.warning("the predictor's training data is not at hand; the LUT is reported unscaled only")
        return None
    data = _scaled(pred, load_datasets(paths))
    ids = set(ids_file.read_text().split())
    return data.subset(np.asarray([i for i, a in enumerate(data.arch_ids) if a in ids], dtype=np.int64))


def _predict(pred: Any, data: LatencyData) -> np.ndarray:
    return np.asarray(pred.predict_genes(data.genes, data.columns["macs"], data.columns["params"]).ms)


def report_command(predictor_dir: Path, data_files: list[str], lut_file: str | None,
                   out: Path) -> tuple[str, dict[str, Any]]:
    from edgenas.search.latency.baselines import FlopsLinear, LookupTable
    from edgenas.search.latency.plot import scatter_png
    from edgenas.search.latency.predictor import Predictor

    pred = Predictor.load(predictor_dir)
    data = _scaled(pred, load_datasets(data_files, space=pred.space_name, target=pred.target))
    if tuple(data.gene_names) != tuple(pred.features.gene_names):
        raise PredictorError("the held-out data's genes differ from the predictor's; it is from another space")
    res = pred.predict_genes(data.genes, data.columns["macs"], data.columns["params"])
    preds: dict[str, np.ndarray] = {"predictor": res.ms}
    preds["flops-linear"] = FlopsLinear.from_dict(pred.meta["baselines"]["flops_linear"]).predict(data.columns["macs"])
    if lut_file is not None:
        from edgenas.search.latency.blocks import block_keys

        table = LookupTable.load(lut_file, space=pred.space_name, target=pred.target)
        space = pred.space()

        def lut(d: LatencyData) -> np.ndarray:
            return table.predict_keys([block_keys(space, space.decode(g), pred.meta["num_classes"]) for g in d.genes])

        preds["lut"] = lut(data)
        train = _training_rows(pred, predictor_dir)
        if train is not None:  # one scale factor fitted on the training rows (geometric mean of measured / LUT)
            try:
                scale = float(np.exp(np.mean(np.log(train.latency_ms / lut(train)))))
                preds["lut-scaled"] = preds["lut"] * scale
            except LatencyError as exc:
                log.warning("no lut-scaled row: the LUT does not cover the training architectures (%s)", exc)
    rows = {name: metrics(data.latency_ms, p) for name, p in preds.items()}
    train_ids_file = predictor_dir / "train_ids.txt"
    train_ids = set(train_ids_file.read_text().split()) if train_ids_file.is_file() else set()
    doc: dict[str, Any] = {
        "predictor": str(predictor_dir), "space": pred.space_name, "target": pred.target,
        "data": [str(p) for p in data_files], "n": len(data), "latency_column": data.target_column,
        "ms_per_unit": data.target_scale,
        "metrics": rows,
        "overlap_with_training": len(train_ids & set(data.arch_ids)),
        "predictor_std_ms_mean": float(np.mean(res.std_ms)),
    }
    if res.p_multi is not None and data.has_context_label:
        doc["regime_accuracy"] = float(np.mean((res.p_multi > 0.5) == (data.columns["multi_context"] > 0.5)))
    if doc["overlap_with_training"]:
        log.warning("%d held-out architectures were in the training data; the figures are optimistic",
                    doc["overlap_with_training"])
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "report.json", doc)
    lines = ["arch_id,measured_ms," + ",".join(f"{k}_ms" for k in preds)]
    lines += [f"{aid},{data.latency_ms[i]:.6g}," + ",".join(f"{p[i]:.6g}" for p in preds.values())
              for i, aid in enumerate(data.arch_ids)]
    atomic_write_text(out / "predictions.csv", "\n".join(lines) + "\n")
    scatter_png(out / "scatter.png", data.latency_ms, preds,
                f"{pred.space_name} on {pred.target}: predicted vs measured (n={len(data)})",
                data.target_column if data.target_scale == 1.0 else
                f"{data.target_column} × {data.target_scale:.3g} ms (median reference p50), in ms")
    return format_table(rows), doc
