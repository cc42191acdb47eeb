"""OrtBackend: loads a bundle, checks it against the manifest, runs batch 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from edgenas.runtime.backends import open_backend
from edgenas.runtime.backends.onnxruntime import OrtBackend, cpu_model
from edgenas.runtime.bundle import Preprocessing, TensorSpec, load_bundle, write_bundle
from edgenas.runtime.errors import BackendError, ModelError


def test_outputs_equal_plain_onnxruntime(tiny_bundle: Any, tiny_onnx: Path) -> None:
    with OrtBackend(tiny_bundle, threads=1) as be:
        x = be.example_input()
        assert x.shape == (1, 3, 16, 16) and x.dtype == np.float32
        (y,) = be.infer(x)
    ref = ort.InferenceSession(str(tiny_onnx), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    assert y.shape == (1, 5)
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-6)


def test_info_records_threads_device_versions(tiny_bundle: Any) -> None:
    info = OrtBackend(tiny_bundle, threads=2).info()
    assert info["backend"] == "onnxruntime" and info["threads"] == 2
    assert info["device"] == cpu_model() and info["device"]
    assert info["versions"]["onnxruntime"] == ort.__version__
    assert OrtBackend(tiny_bundle).info()["threads"] == "auto"


def test_open_backend_auto_picks_onnxruntime(tiny_bundle: Any) -> None:
    assert isinstance(open_backend(tiny_bundle, "auto", threads=1), OrtBackend)


def test_zero_threads_is_an_error(tiny_bundle: Any) -> None:
    with pytest.raises(BackendError, match="threads"):
        OrtBackend(tiny_bundle, threads=0)


def _bundle_of(tmp_path: Path, model: Path | bytes, input_name: str = "input",
               shape: tuple[int, ...] = (1, 3, 16, 16), size_hw: tuple[int, int] = (16, 16)) -> Any:
    return write_bundle(
        tmp_path / "b", name="t", model_file="model.onnx", model_format="onnx",
        files={"model.onnx": ("model", model)}, inputs=[TensorSpec(input_name, shape)],
        outputs=[TensorSpec("logits", (1, 5))], preprocessing=Preprocessing(size_hw=size_hw),
    )


def test_truncated_onnx_says_reexport(tmp_path: Path, tiny_onnx: Path) -> None:
    # The hashes match (the bundle was written from a truncated file), so only loading can catch it.
    bundle = _bundle_of(tmp_path, tiny_onnx.read_bytes()[:200])
    with pytest.raises(ModelError, match="re-export"):
        OrtBackend(bundle)


def test_input_name_mismatch_names_both(tmp_path: Path, tiny_onnx: Path) -> None:
    bundle = _bundle_of(tmp_path, tiny_onnx, input_name="images")
    with pytest.raises(ModelError, match="'input'.*'images'"):
        OrtBackend(bundle)


def test_input_shape_mismatch_names_both(tmp_path: Path, make_onnx: Any) -> None:
    model = make_onnx(tmp_path / "m32.onnx", size_hw=(32, 32))
    bundle = _bundle_of(tmp_path, model)  # manifest says 16x16
    with pytest.raises(ModelError, match=r"\[1, 3, 32, 32\].*\[1, 3, 16, 16\]"):
        OrtBackend(bundle)


def test_manifest_shape_disagreeing_with_preprocessing(tmp_path: Path, tiny_onnx: Path) -> None:
    bundle = _bundle_of(tmp_path, tiny_onnx, size_hw=(8, 8))
    with pytest.raises(ModelError, match="preprocessing"):
        OrtBackend(bundle)


def test_dynamic_batch_model_runs(tmp_path: Path, make_onnx: Any) -> None:
    bundle = _bundle_of(tmp_path, make_onnx(tmp_path / "dyn.onnx", batch="N"))
    (y,) = OrtBackend(bundle, threads=1).infer(np.zeros((1, 3, 16, 16), np.float32))
    assert y.shape == (1, 5)


def test_unknown_output_in_manifest(tiny_bundle: Any) -> None:
    mpath = tiny_bundle.root / "manifest.json"
    d = json.loads(mpath.read_text())
    d["outputs"][0]["name"] = "probs"
    mpath.write_text(json.dumps(d))
    with pytest.raises(ModelError, match="probs"):
        OrtBackend(load_bundle(tiny_bundle.root))


def test_hef_bundle_refused(tiny_bundle: Any) -> None:
    mpath = tiny_bundle.root / "manifest.json"
    d = json.loads(mpath.read_text())
    d["model_format"] = "hef"
    mpath.write_text(json.dumps(d))
    with pytest.raises(BackendError, match="hailort"):
        OrtBackend(load_bundle(tiny_bundle.root))
