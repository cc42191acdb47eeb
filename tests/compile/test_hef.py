"""`edgenas compile hef` / `estimate` through the fake DFC and the fake HailoRT."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from edgenas.runtime.bundle import load_bundle
from edgenas.runtime.cli import cli

TINY_BUDGET = "resources_param(max_memory_utilization=0.000001)\n"  # fake resource model: many contexts


def _hef(bundle: Any, out: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["compile", "hef", "--bundle", str(bundle.root), "--target", "hailo8l",
                                    "--out", str(out), *extra])


def _estimate(path: Path) -> Any:
    return CliRunner().invoke(cli, ["compile", "estimate", "--bundle", str(path), "--json"])


def test_hef_bundle_runs_on_fake_hailort_like_onnx(hailo_fakes: Any, calib_bundle: Any, tmp_path: Path) -> None:
    from edgenas.runtime.backends.base import open_backend

    res = _hef(calib_bundle, tmp_path / "hef")
    assert res.exit_code == 0, res.output
    new = load_bundle(tmp_path / "hef")
    m = new.manifest
    assert m.model_format == "hef" and m.model_file == "model.hef"
    assert m.parent == {"name": "tiny", "manifest_sha256": calib_bundle.manifest_sha256}
    assert m.preprocessing == calib_bundle.manifest.preprocessing
    assert m.inputs[0].dtype == "uint8" and m.inputs[0].shape == (1, 16, 16, 3)
    assert "model.onnx" not in {a.path for a in m.artifacts}
    assert m.provenance["hw_arch"] == "hailo8l"
    assert hailo_fakes.read_fake_hef(new.model_path).hw_arch == "hailo8l"
    script = (new.root / "model.alls").read_text()
    assert "normalization1 = normalization([123.675, 116.28, 103.53], [58.395, 57.12, 57.375])" in script
    frames = np.random.default_rng(3).integers(0, 256, size=(4, 16, 16, 3), dtype=np.uint8)
    with open_backend(new) as hailo, open_backend(calib_bundle, "onnxruntime") as ort:
        assert hailo.name == "hailort"
        for f in frames:
            np.testing.assert_allclose(hailo.infer(hailo.prepare(f))[0], ort.infer(ort.prepare(f))[0], atol=1e-4)


def test_single_vs_multi_context_estimate(hailo_fakes: Any, calib_bundle: Any, tmp_path: Path) -> None:
    script = tmp_path / "budget.alls"
    script.write_text(TINY_BUDGET)
    assert _hef(calib_bundle, tmp_path / "single").exit_code == 0
    res = _hef(calib_bundle, tmp_path / "multi", "--model-script", str(script))
    assert res.exit_code == 0, res.output
    single, multi = (json.loads(_estimate(tmp_path / n).stdout) for n in ("single", "multi"))
    assert single["multi_context"] is False and multi["multi_context"] is True
    assert multi["bottleneck_fps"] < single["bottleneck_fps"]
    assert single["source"] == "hailort" and single["hw_arch"] == "hailo8l"
    assert load_bundle(tmp_path / "multi").manifest.latency["multi_context"] is True


def test_estimate_reads_compile_report_without_hailort(hailo_fakes: Any, calib_bundle: Any, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert _hef(calib_bundle, tmp_path / "hef").exit_code == 0
    monkeypatch.setitem(sys.modules, "hailo_platform", None)
    res = _estimate(tmp_path / "hef")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["source"].startswith("compile_report.json")


def test_context_switch_disabled_fails_to_fit(hailo_fakes: Any, calib_bundle: Any, tmp_path: Path) -> None:
    script = tmp_path / "nocs.alls"
    script.write_text(TINY_BUDGET + "context_switch_param(mode=disabled)\n")
    res = _hef(calib_bundle, tmp_path / "out", "--model-script", str(script))
    assert res.exit_code == 1 and "single context" in res.output
    assert not (tmp_path / "out").exists()


def test_unsupported_op_names_recommended_end_nodes(hailo_fakes: Any, make_calib_bundle: Any, convnet: Any,
                                                    tmp_path: Path) -> None:
    bundle = make_calib_bundle(tmp_path / "b", convnet(tmp_path / "erf.onnx", extra_op="Erf"), classes=10)
    res = _hef(bundle, tmp_path / "out")
    assert res.exit_code == 1
    assert "--end-node /relu1/Relu" in res.output and "Erf" in res.output
    assert not (tmp_path / "out").exists()


def test_missing_sdk_names_the_wheel(no_hailo_sdk: None, calib_bundle: Any, tmp_path: Path) -> None:
    res = _hef(calib_bundle, tmp_path / "out")
    assert res.exit_code == 1
    assert "hailo_dataflow_compiler" in res.output and "vendor/" in res.output
    assert not (tmp_path / "out").exists()


def test_missing_calibration(hailo_fakes: Any, make_calib_bundle: Any, tiny_onnx: Path, tmp_path: Path) -> None:
    res = _hef(make_calib_bundle(tmp_path / "b", tiny_onnx, n=0), tmp_path / "out")
    assert res.exit_code == 1 and "calibration" in res.output
    assert not (tmp_path / "out").exists()


def test_wrong_target_is_usage_error(hailo_fakes: Any, calib_bundle: Any, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["compile", "hef", "--bundle", str(calib_bundle.root), "--target",
                                   "onnxruntime-cpu", "--out", str(tmp_path / "o")])
    assert res.exit_code == 2


def test_hef_of_a_hef_bundle_and_estimate_of_onnx_fail(hailo_fakes: Any, tiny_hef_bundle: Any,
                                                       calib_bundle: Any, tmp_path: Path) -> None:
    assert _hef(tiny_hef_bundle, tmp_path / "o").exit_code == 1
    res = _estimate(calib_bundle.root)
    assert res.exit_code == 1 and "compile hef" in res.output


def test_har_out_and_no_gpu_level(hailo_fakes: Any, calib_bundle: Any, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from edgenas.compile import dfc

    monkeypatch.setattr(dfc, "has_gpu", lambda: False)
    res = _hef(calib_bundle, tmp_path / "hef", "--har-out", str(tmp_path / "m.har"), "--calib", "8")
    assert res.exit_code == 0, res.output
    script = (tmp_path / "hef" / "model.alls").read_text()
    assert "optimization_level=0" in script and "calibset_size=8" in script
    from hailo_sdk_client import ClientRunner, States

    runner = ClientRunner(har=str(tmp_path / "m.har"))
    assert runner.state == States.COMPILED_MODEL and runner.hw_arch == "hailo8l"
    report = json.loads((tmp_path / "hef" / "compile_report.json").read_text())
    assert report["calibration_images"] == 8 and report["labels"]["multi_context"] is False


def test_dfc_without_hailort_leaves_hef_unlabelled(hailo_fakes: Any, calib_bundle: Any, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hailo_platform", None)  # compile container without the HailoRT wheel
    res = _hef(calib_bundle, tmp_path / "hef")
    assert res.exit_code == 0, res.output
    new = load_bundle(tmp_path / "hef")
    assert new.manifest.latency == {}
    assert json.loads((new.root / "compile_report.json").read_text())["labels"] is None
    res = _estimate(tmp_path / "hef")
    assert res.exit_code == 1 and "HailoRT" in res.output and "vendor/" in res.output


def test_nhwc_model_compiles_and_matches(hailo_fakes: Any, make_onnx: Any, tmp_path: Path) -> None:
    from edgenas.runtime.backends.base import open_backend
    from edgenas.runtime.bundle import Preprocessing, TensorSpec, write_bundle

    onnx = make_onnx(tmp_path / "nhwc.onnx", layout="NHWC")
    calib = tmp_path / "calib.npy"
    np.save(calib, np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8))
    bundle = write_bundle(tmp_path / "b", name="nhwc", model_file="model.onnx", model_format="onnx",
                          files={"model.onnx": ("model", onnx), "calibration.npy": ("calibration", calib)},
                          inputs=[TensorSpec("input", (1, 16, 16, 3))], outputs=[TensorSpec("logits", (1, 5))],
                          preprocessing=Preprocessing(size_hw=(16, 16), layout="NHWC"))
    res = _hef(bundle, tmp_path / "hef")
    assert res.exit_code == 0, res.output
    frame = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    with open_backend(load_bundle(tmp_path / "hef")) as hailo, open_backend(bundle, "onnxruntime") as ort:
        np.testing.assert_allclose(hailo.infer(hailo.prepare(frame))[0], ort.infer(ort.prepare(frame))[0], atol=1e-4)


def test_user_script_may_not_normalize_twice(hailo_fakes: Any, calib_bundle: Any, tmp_path: Path) -> None:
    script = tmp_path / "norm.alls"
    script.write_text("normalization1 = normalization([0, 0, 0], [255, 255, 255])\n")
    res = _hef(calib_bundle, tmp_path / "out", "--model-script", str(script))
    assert res.exit_code == 1 and "normalization" in res.output and not (tmp_path / "out").exists()
    res = _hef(calib_bundle, tmp_path / "out", "--model-script", str(tmp_path / "missing.alls"))
    assert res.exit_code == 1 and "does not exist" in res.output
