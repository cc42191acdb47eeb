"""`edgenas compile check`: findings, fixes and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from edgenas.runtime.cli import cli


def _check(bundle: Any, target: str) -> tuple[int, dict[str, Any]]:
    res = CliRunner().invoke(cli, ["compile", "check", "--bundle", str(bundle.root), "--target", target, "--json"])
    return res.exit_code, json.loads(res.stdout) if res.stdout.strip().startswith("{") else {}


def _codes(report: dict[str, Any], level: str) -> set[str]:
    return {f["code"] for f in report["findings"] if f["level"] == level}


def test_clean_model_passes_with_small_calibration_warning(calib_bundle: Any) -> None:
    code, report = _check(calib_bundle, "hailo8l")
    assert code == 0 and report["ok"]
    assert _codes(report, "error") == set()
    assert "calibration-size" in _codes(report, "warning")  # 32 < 1024
    assert all(f["fix"] for f in report["findings"] if f["level"] == "warning")


def test_resize_is_flagged_with_a_fix(make_calib_bundle: Any, convnet: Any, tmp_path: Path) -> None:
    onnx = convnet(tmp_path / "resize.onnx", extra_op="Resize")
    code, report = _check(make_calib_bundle(tmp_path / "b", onnx, classes=10), "hailo8l")
    assert code == 1 and not report["ok"]
    errs = [f for f in report["findings"] if f["code"] == "unsupported-op"]
    assert len(errs) == 1 and "Resize" in errs[0]["message"] and "/up/Resize" in errs[0]["message"]
    assert errs[0]["fix"]


def test_erf_is_flagged_but_runs_on_cpu(make_calib_bundle: Any, convnet: Any, tmp_path: Path) -> None:
    bundle = make_calib_bundle(tmp_path / "b", convnet(tmp_path / "erf.onnx", extra_op="Erf"), classes=10)
    code, report = _check(bundle, "hailo8")
    assert code == 1 and any("Erf" in f["message"] for f in report["findings"])
    code, report = _check(bundle, "onnxruntime-cpu")
    assert code == 0, report


def test_dynamic_batch_blocks_hailo_warns_cpu(make_calib_bundle: Any, make_onnx: Any, tmp_path: Path) -> None:
    onnx = make_onnx(tmp_path / "dyn.onnx", batch="N")
    bundle = make_calib_bundle(tmp_path / "b", onnx)
    code, report = _check(bundle, "hailo8l")
    assert code == 1 and "dynamic-shape" in _codes(report, "error")
    code, report = _check(bundle, "onnxruntime-cpu")
    assert code == 0 and "dynamic-shape" in _codes(report, "warning")


def test_opset_out_of_range(make_calib_bundle: Any, convnet: Any, tmp_path: Path) -> None:
    bundle = make_calib_bundle(tmp_path / "b", convnet(tmp_path / "o.onnx", opset=18), classes=10)
    code, report = _check(bundle, "hailo8l")
    assert code == 1 and "opset" in _codes(report, "error")


def test_missing_calibration_blocks_hailo_only(make_calib_bundle: Any, tiny_onnx: Path, tmp_path: Path) -> None:
    bundle = make_calib_bundle(tmp_path / "b", tiny_onnx, n=0)
    code, report = _check(bundle, "hailo8l")
    assert code == 1 and "calibration-missing" in _codes(report, "error")
    code, report = _check(bundle, "onnxruntime-cpu")
    assert code == 0 and "calibration-missing" in _codes(report, "warning")


def test_hef_bundle_is_not_checkable(tiny_hef_bundle: Any) -> None:
    code, report = _check(tiny_hef_bundle, "hailo8l")
    assert code == 1 and "not-onnx" in _codes(report, "error")


def test_bad_target_is_usage_error(calib_bundle: Any) -> None:
    res = CliRunner().invoke(cli, ["compile", "check", "--bundle", str(calib_bundle.root), "--target", "tpu"])
    assert res.exit_code == 2


def test_text_output_lists_fixes(calib_bundle: Any) -> None:
    res = CliRunner().invoke(cli, ["compile", "check", "--bundle", str(calib_bundle.root), "--target", "hailo8l"])
    assert res.exit_code == 0 and "fix:" in res.stdout and "OK for hailo8l" in res.stdout
