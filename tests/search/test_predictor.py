"""The latency predictor: train / save / load and its refusals, the report on a small replay data
set (with both baselines), the regime classifier, and the predict CLI's output format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from edgenas.runtime.cli import cli
from edgenas.search.flops import count_flops_params
from edgenas.search.latency.dataset import GENE_PREFIX, LatencyCsvWriter, read_latency_csv, write_metadata
from edgenas.search.latency.errors import PredictorError
from edgenas.search.latency.predictor import Predictor
from edgenas.search.latency.sample import read_archs_jsonl
from edgenas.search.spaces import load_space

FAST = ["--ensemble", "2", "--max-epochs", "60"]


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def synthetic(out: Path, n: int, seed: int, *, target: str = "replay", context: bool = False,
              exclude: Path | None = None, paired: bool = False, linear: bool = False) -> Path:
    """A replay data set of the tiny space: latency = a smooth function of the plan (+ a context cliff)."""
    extra = ["--exclude", str(exclude)] if exclude else []
    assert invoke("search", "latency", "sample", "--space", "tiny", "--n", str(n), "--seed", str(seed), "--out",
                  str(out), *extra).exit_code == 0
    space = load_space("tiny")
    w = LatencyCsvWriter(out / "latency.csv", space.gene_names)
    for aid, arch in read_archs_jsonl(out / "archs.jsonl"):
        macs, params = count_flops_params(space, arch)
        ms = 0.05 + macs / 2e6 + (0.0 if linear else 0.03 * sum(arch.depths))
        row = {"arch_id": aid, "resolution": arch.resolution, "macs": macs, "params": params,
               **{GENE_PREFIX + g: int(v) for g, v in zip(space.gene_names, space.encode(arch), strict=True)}}
        if context:
            row["multi_context"] = int(params > 20000)
            ms *= 4.0 if row["multi_context"] else 1.0
        if paired:  # measured in processes of different speed (1x, 1.5x): the ratio to the reference keeps
            speed = 1.5 if len(w.ids) % 2 else 1.0  # its value, p50 and the reference's p50 do not
            row.update(latency_ratio=ms / 0.4, reference_p50_ms=0.4 * speed)
            ms *= speed
        w.append({**row, "latency_p50_ms": ms})
    write_metadata(out, {"space": "tiny", "target": target, "num_classes": 10})
    return out / "latency.csv"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pred")
    train_csv = synthetic(root / "train", 60, 1)
    held_csv = synthetic(root / "held", 10, 2, exclude=root / "train/archs.jsonl")
    res = invoke("search", "predictor", "train", "--data", str(train_csv), "--space", "tiny", "--target", "replay",
                 "--out", str(root / "p"), "--holdout", "0.2", *FAST)
    assert res.exit_code == 0, res.output
    return {"root": root, "pred": root / "p", "train": train_csv, "held": held_csv}


def test_train_writes_a_complete_predictor_directory(trained: dict[str, Path]) -> None:
    p = trained["pred"]
    meta = json.loads((p / "predictor.json").read_text())
    assert meta["space"] == "tiny" and meta["target"] == "replay" and meta["ensemble"] == 2
    assert meta["features"]["version"] == 1 and meta["features"]["use_macs"] is True
    assert {"train", "holdout"} <= set(meta["metrics"]) and "flops_linear" in meta["baselines"]
    assert (p / "weights.pt").is_file() and (p / "heldout.csv").is_file()
    assert len((p / "train_ids.txt").read_text().split()) == 48 == meta["n_train"]


def test_save_load_roundtrip_predicts_the_same(trained: dict[str, Path], tmp_path: Path) -> None:
    pred = Predictor.load(trained["pred"], space="tiny", target="replay")
    space = load_space("tiny")
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(7)]
    a = pred.predict(archs)
    genes = np.stack([space.encode(x) for x in archs])
    assert a.shape == (7,) and (a > 0).all() and np.allclose(pred.predict(genes), a)
    pred.save(tmp_path / "copy")
    assert np.allclose(Predictor.load(tmp_path / "copy").predict(genes), a)
    res = pred.predict_genes(genes)
    assert res.std_ms.shape == (7,) and (res.std_ms >= 0).all() and res.p_multi is None


def test_load_refuses_other_space_target_and_non_predictors(trained: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(PredictorError, match="space 'tiny', not 'cifar'|space"):
        Predictor.load(trained["pred"], space="cifar")
    with pytest.raises(PredictorError, match="hailo8l"):
        Predictor.load(trained["pred"], target="hailo8l")
    with pytest.raises(PredictorError, match="not a latency predictor"):
        Predictor.load(tmp_path)
    pred = Predictor.load(trained["pred"])
    with pytest.raises(PredictorError, match="genes"):
        pred.predict(np.zeros((2, 23), dtype=np.int64))  # a cifar chromosome
    bad = np.stack([load_space("tiny").encode(load_space("tiny").min_arch())])
    bad[0, 0] = 7
    with pytest.raises(PredictorError, match="outside the range"):
        pred.predict(bad)


def test_train_refuses_data_of_another_target_and_existing_out(trained: dict[str, Path]) -> None:
    res = invoke("search", "predictor", "train", "--data", str(trained["train"]), "--space", "tiny", "--target",
                 "hailo8l", "--out", str(trained["root"] / "x"), *FAST)
    assert res.exit_code == 1 and "hailo8l" in res.output and not (trained["root"] / "x").exists()
    res = invoke("search", "predictor", "train", "--data", str(trained["train"]), "--space", "tiny", "--target",
                 "replay", "--out", str(trained["pred"]), *FAST)
    assert res.exit_code == 1 and "--overwrite" in res.output


def test_report_on_replay_data_with_both_baselines(trained: dict[str, Path], tmp_path: Path) -> None:
    space = load_space("tiny")
    lut = tmp_path / "lut.json"
    res = invoke("search", "latency", "lut", "--archs", str(trained["root"] / "held/archs.jsonl"), "--space", "tiny",
                 "--runs", "3", "--warmup", "1", "--out", str(lut))
    assert res.exit_code == 0, res.output
    table = json.loads(lut.read_text())
    assert table["space"] == "tiny" and table["entries"] and all(e["p50_ms"] > 0 for e in table["entries"].values())
    table["target"] = "replay"  # the synthetic data set plays the role of the LUT's target here
    lut.write_text(json.dumps(table))
    res = invoke("search", "predictor", "report", "--predictor", str(trained["pred"]), "--data",
                 str(trained["held"]), "--lut", str(lut), "--out", str(tmp_path / "r"))
    assert res.exit_code == 0, res.output
    assert "predictor" in res.stdout and "flops-linear" in res.stdout and "lut" in res.stdout
    rep = json.loads((tmp_path / "r/report.json").read_text())
    # no "lut-scaled" row: that needs the LUT to cover the training architectures too (the benchmark's case)
    assert set(rep["metrics"]) == {"predictor", "flops-linear", "lut"} and rep["n"] == 10
    assert rep["overlap_with_training"] == 0
    for m in rep["metrics"].values():
        assert {"rmse_ms", "mape_pct", "kendall_tau", "spearman", "within_5pct", "within_10pct"} <= set(m)
    assert rep["metrics"]["predictor"]["mape_pct"] < rep["metrics"]["lut"]["mape_pct"]  # LUT is in real ms
    assert (tmp_path / "r/scatter.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((tmp_path / "r/predictions.csv").read_text().splitlines()) == 11
    assert space.name == rep["space"]


def test_report_refuses_lut_of_another_target(trained: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "lut.json").write_text(json.dumps({"format_version": 1, "space": "tiny", "target": "hailo8l",
                                                   "entries": {}}))
    res = invoke("search", "predictor", "report", "--predictor", str(trained["pred"]), "--data",
                 str(trained["held"]), "--lut", str(tmp_path / "lut.json"), "--out", str(tmp_path / "r"))
    assert res.exit_code == 1 and "hailo8l" in res.output


def test_predict_cli_prints_json_lines(trained: dict[str, Path]) -> None:
    archs = trained["root"] / "held/archs.jsonl"
    res = invoke("search", "predictor", "predict", "--predictor", str(trained["pred"]), "--archs", str(archs))
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["arch_id"] for r in rows] == [a for a, _ in read_archs_jsonl(archs)]
    assert all(set(r) == {"arch_id", "predicted_ms", "std_ms"} and r["predicted_ms"] > 0 for r in rows)


def test_regime_classifier_when_the_data_has_context_labels(tmp_path: Path) -> None:
    csv = synthetic(tmp_path / "d", 60, 3, target="hailo8l", context=True)
    res = invoke("search", "predictor", "train", "--data", str(csv), "--space", "tiny", "--target", "hailo8l",
                 "--out", str(tmp_path / "p"), *FAST)
    assert res.exit_code == 0, res.output
    pred = Predictor.load(tmp_path / "p", target="hailo8l")
    assert pred.meta["regime_classifier"] is True
    res = invoke("search", "predictor", "predict", "--predictor", str(tmp_path / "p"), "--archs",
                 str(tmp_path / "d/archs.jsonl"))
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert all(0.0 <= r["p_multi_context"] <= 1.0 for r in rows)
    res = invoke("search", "predictor", "report", "--predictor", str(tmp_path / "p"), "--data", str(csv),
                 "--out", str(tmp_path / "r"))
    assert res.exit_code == 0 and "regime_accuracy" in json.loads((tmp_path / "r/report.json").read_text())


def test_paired_data_is_learned_as_the_ratio_in_ms(tmp_path: Path) -> None:
    csv = synthetic(tmp_path / "d", 60, 4, paired=True)
    res = invoke("search", "predictor", "train", "--data", str(csv), "--space", "tiny", "--target", "replay",
                 "--out", str(tmp_path / "p"), *FAST)  # --latency-column auto
    assert res.exit_code == 0, res.output
    pred = Predictor.load(tmp_path / "p")
    assert pred.meta["predicts"] == "latency_ratio" and pred.meta["ms_per_unit"] == pytest.approx(0.5)
    res = invoke("search", "predictor", "report", "--predictor", str(tmp_path / "p"), "--data", str(csv),
                 "--out", str(tmp_path / "r"))
    assert res.exit_code == 0, res.output
    rep = json.loads((tmp_path / "r/report.json").read_text())
    assert rep["latency_column"] == "latency_ratio" and rep["ms_per_unit"] == pytest.approx(0.5)
    rows = (tmp_path / "r/predictions.csv").read_text().splitlines()
    measured = np.array([float(r.split(",")[1]) for r in rows[1:]])
    data = read_latency_csv(csv)
    assert rows[0].startswith("arch_id,measured_ms,") and np.allclose(measured, data.columns["latency_ratio"] * 0.5,
                                                                        rtol=1e-4)
    # the speed-independent labels are learned well; the 1x/1.5x process speeds would cost far more
    assert rep["metrics"]["predictor"]["mape_pct"] < 15.0
    res = invoke("search", "predictor", "train", "--data", str(csv), "--space", "tiny", "--target", "replay",
                 "--latency-column", "latency_p50_ms", "--out", str(tmp_path / "p50"), *FAST)
    assert res.exit_code == 0 and Predictor.load(tmp_path / "p50").meta["predicts"] == "latency_p50_ms"


def test_ratio_without_the_reference_latency_is_refused(tmp_path: Path) -> None:
    csv = synthetic(tmp_path / "d", 12, 5, paired=True)
    text = csv.read_text().splitlines()
    col = text[0].split(",").index("reference_p50_ms")
    csv.write_text("\n".join([text[0], *(",".join("" if i == col else v for i, v in enumerate(line.split(",")))
                                         for line in text[1:])]) + "\n")
    res = invoke("search", "predictor", "train", "--data", str(csv), "--space", "tiny", "--target", "replay",
                 "--latency-column", "latency_ratio", "--out", str(tmp_path / "p"), *FAST)
    assert res.exit_code == 1 and "re-measure" in res.output and not (tmp_path / "p").exists()


def test_residual_predictor_starts_from_the_flops_linear_fit(tmp_path: Path) -> None:
    train = synthetic(tmp_path / "t", 40, 6, linear=True)  # latency exactly linear in MACs
    held = synthetic(tmp_path / "h", 10, 7, linear=True, exclude=tmp_path / "t/archs.jsonl")
    for flag in ("--residual", "--no-residual"):
        res = invoke("search", "predictor", "train", "--data", str(train), "--space", "tiny", "--target", "replay",
                     "--out", str(tmp_path / flag), flag, *FAST)
        assert res.exit_code == 0, res.output
    pred, plain = Predictor.load(tmp_path / "--residual"), Predictor.load(tmp_path / "--no-residual")
    assert plain.meta["base"] is None
    assert pred.meta["base"]["slope_ms_per_mmac"] == pytest.approx(0.5) and pred.meta["base"]["floor_ms"] > 0
    data = read_latency_csv(held)
    got = pred.predict_genes(data.genes).ms  # MACs computed through the space for the base
    assert np.allclose(got, pred.predict_genes(data.genes, data.columns["macs"], data.columns["params"]).ms)
    err = np.abs(got / data.latency_ms - 1)
    assert err.max() < 0.05  # the members learned (close to) nothing on top of an exact fit
