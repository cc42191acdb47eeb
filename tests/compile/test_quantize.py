"""`edgenas compile quantize`: ONNX Runtime static INT8 (QDQ) with the bundle's calibration sample."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from click.testing import CliRunner

from edgenas.compile.calibration import load_calibration, normalize
from edgenas.runtime.bundle import load_bundle
from edgenas.runtime.cli import cli


def _quantize(bundle: Any, out: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["compile", "quantize", "--bundle", str(bundle.root), "--out", str(out),
                                    "--json", *extra])


def _top1(model_path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    return np.array([int(np.argmax(sess.run(None, {"input": x[i:i + 1]})[0])) for i in range(len(x))])


def test_quantize_makes_smaller_bundle_that_agrees(make_calib_bundle: Any, convnet: Any, tmp_path: Path) -> None:
    bundle = make_calib_bundle(tmp_path / "b", convnet(tmp_path / "c.onnx"), n=64, classes=10)
    res = _quantize(bundle, tmp_path / "q")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    new = load_bundle(tmp_path / "q")
    m = new.manifest
    assert m.parent == {"name": "tiny", "manifest_sha256": bundle.manifest_sha256}
    assert m.model_format == "onnx" and m.model_file == "model.int8.onnx" and m.provenance["quantized"]
    assert report["size_bytes_after"] < 0.5 * report["size_bytes_before"]
    assert new.model_path.stat().st_size == report["size_bytes_after"]
    ops = {n.op_type for n in onnx.load(str(new.model_path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    x = normalize(load_calibration(bundle), bundle.manifest.preprocessing)
    agree = float(np.mean(_top1(bundle.model_path, x) == _top1(new.model_path, x)))
    assert agree >= 0.8, agree


def test_quantize_calib_limit_and_refusals(make_calib_bundle: Any, convnet: Any, tiny_onnx: Path,
                                           tmp_path: Path) -> None:
    bundle = make_calib_bundle(tmp_path / "b", convnet(tmp_path / "c.onnx"), n=16, classes=10)
    res = _quantize(bundle, tmp_path / "q", "--calib", "4")
    assert res.exit_code == 0 and json.loads(res.stdout)["calibration_images"] == 4
    assert _quantize(load_bundle(tmp_path / "q"), tmp_path / "qq").exit_code == 1  # already quantized
    res = _quantize(bundle, tmp_path / "q")  # existing output directory
    assert res.exit_code == 1 and "already exists" in res.output
    res = _quantize(make_calib_bundle(tmp_path / "nocal", tiny_onnx, n=0), tmp_path / "q2")
    assert res.exit_code == 1 and "calibration" in res.output and not (tmp_path / "q2").exists()


def test_bad_calibration_shape_is_refused(make_calib_bundle: Any, tiny_onnx: Path, tmp_path: Path) -> None:
    from edgenas.runtime.bundle import derive_bundle

    bundle = make_calib_bundle(tmp_path / "b", tiny_onnx)
    buf = tmp_path / "bad.npy"
    np.save(buf, np.zeros((4, 8, 8, 3), np.uint8))
    bad = derive_bundle(bundle, tmp_path / "bad", replace_files={"calibration.npy": ("calibration", buf)})
    res = _quantize(bad, tmp_path / "q")
    assert res.exit_code == 1 and "(N, 16, 16, 3)" in res.output
