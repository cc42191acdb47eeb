"""The whole chain through the CLI, as a user runs it: search export -> compile -> runtime.

Search exports a real subnet of the `tiny` space (digits calibration sample inside), the compile
stage makes a HEF with the fake Hailo DFC and a quantized ONNX, and the runtime validates,
benches and runs each bundle live. Every stage writes a new bundle whose parent is the input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from edgenas.runtime.bundle import load_bundle
from edgenas.runtime.cli import cli


def invoke(args: list[str]) -> Any:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, f"edgenas {' '.join(args)} failed:\n{result.output}"
    return result


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edgenas.search.spaces import load_space

    tmp = tmp_path_factory.mktemp("chain")
    arch = load_space("tiny").max_arch()
    (tmp / "arch.json").write_text(json.dumps(arch.to_dict()))
    invoke(["search", "export", "--space", "tiny", "--arch", str(tmp / "arch.json"), "--dataset", "digits",
            "--calib-images", "16", "--calib-batches", "2", "--out", str(tmp / "searched")])
    return tmp / "searched"


def test_export_is_a_valid_bundle_with_calibration(exported: Path) -> None:
    invoke(["bundle", "validate", str(exported)])
    bundle = load_bundle(exported)
    m = bundle.manifest
    assert m.model_format == "onnx" and len(m.classes) == 10
    assert m.architecture is not None and m.architecture["space"] == "tiny"
    calib = np.load(bundle.artifact_path("calibration"))
    h, w = m.preprocessing.size_hw
    assert calib.shape == (16, h, w, 3) and calib.dtype == np.uint8


def test_onnx_bundle_bench_and_live_run(exported: Path, tmp_path: Path) -> None:
    bench = json.loads(invoke(["bench", "--bundle", str(exported), "--runs", "20", "--warmup", "2",
                               "--threads", "1", "--json"]).stdout)
    assert bench["p50_ms"] > 0 and bench["fps"] > 0
    report = tmp_path / "run.json"
    invoke(["run", "--bundle", str(exported), "--source", "synthetic:fps=30", "--duration", "2",
            "--threads", "1", "--report", str(report)])
    summary = json.loads(report.read_text())
    assert summary["frames"] > 0 and summary["p50_ms"] > 0


def test_hef_through_fake_dfc_runs_on_fake_hailort(hailo_fakes: Any, exported: Path, tmp_path: Path) -> None:
    hef = tmp_path / "hef"
    invoke(["compile", "hef", "--bundle", str(exported), "--target", "hailo8l", "--out", str(hef)])
    parent, child = load_bundle(exported), load_bundle(hef)
    assert child.manifest.model_format == "hef"
    assert child.manifest.parent == parent.as_parent()
    assert child.manifest.preprocessing == parent.manifest.preprocessing
    report = tmp_path / "run.json"
    invoke(["run", "--bundle", str(hef), "--source", "synthetic:fps=30", "--duration", "2", "--report", str(report)])
    summary = json.loads(report.read_text())
    assert summary["frames"] > 0
    assert "hailo" in json.dumps(summary).lower()


def test_quantized_bundle_agrees_with_float(exported: Path, tmp_path: Path) -> None:
    from edgenas.runtime.backends import open_backend

    q = tmp_path / "int8"
    invoke(["compile", "quantize", "--bundle", str(exported), "--out", str(q)])
    float_b, int8_b = load_bundle(exported), load_bundle(q)
    assert int8_b.manifest.parent == float_b.as_parent()
    frames = np.load(float_b.artifact_path("calibration"))[:, :, :, ::-1]  # RGB -> BGR, as a camera gives
    with open_backend(float_b, threads=1) as fb, open_backend(int8_b, threads=1) as qb:
        f_logits = np.stack([fb.infer(fb.prepare(np.ascontiguousarray(f)))[0][0] for f in frames])
        q_logits = np.stack([qb.infer(qb.prepare(np.ascontiguousarray(f)))[0][0] for f in frames])
    assert np.isfinite(q_logits).all()
    # int8 keeps the network's function: its logits correlate with the float logits
    corr = np.corrcoef(f_logits.ravel(), q_logits.ravel())[0, 1]
    assert corr > 0.9, corr
