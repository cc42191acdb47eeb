"""HailoBackend against the fake hailo_platform (tests/fakes), which runs the HEF's embedded ONNX."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edgenas.runtime.backends import open_backend
from edgenas.runtime.backends.hailort import HailoBackend
from edgenas.runtime.backends.onnxruntime import OrtBackend
from edgenas.runtime.bundle import Preprocessing, TensorSpec, write_bundle
from edgenas.runtime.errors import BackendError, ModelError

IMAGENET_MEAN = (123.675, 116.28, 103.53)  # what the tiny_hef_bundle fixture puts in its HEF
IMAGENET_STD = (58.395, 57.12, 57.375)


def _frame(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8)


def test_outputs_equal_onnxruntime_on_the_same_onnx(tiny_hef_bundle: Any, tiny_onnx: Path, tmp_path: Path) -> None:
    ort_bundle = write_bundle(
        tmp_path / "ort", name="t", model_file="m.onnx", model_format="onnx", files={"m.onnx": ("model", tiny_onnx)},
        inputs=[TensorSpec("input", (1, 3, 16, 16))], outputs=[TensorSpec("logits", (1, 5))],
        preprocessing=Preprocessing(size_hw=(16, 16), mean_pixel=IMAGENET_MEAN, std_pixel=IMAGENET_STD),
    )
    with HailoBackend(tiny_hef_bundle) as hb, OrtBackend(ort_bundle, threads=1) as ob:
        for seed in range(3):
            x = hb.prepare(_frame(seed))
            assert x.dtype == np.uint8 and x.shape == (1, 16, 16, 3)
            (yh,) = hb.infer(x)
            (yo,) = ob.infer(ob.prepare(_frame(seed)))
            assert yh.shape == (1, 5) and yh.dtype == np.float32
            np.testing.assert_allclose(yh, yo, rtol=1e-4, atol=1e-5)


def test_info_records_version_device_and_hef(tiny_hef_bundle: Any) -> None:
    with HailoBackend(tiny_hef_bundle, timeout_ms=500) as hb:
        info = hb.info()
    assert info["backend"] == "hailort" and info["versions"]["hailort"] == "4.23.0"
    assert info["device_arch"] == "HAILO8L" and info["device_ids"] == ["0000:01:00.0"]
    assert info["hef"] == {"network_group": "net", "multi_context": False, "bottleneck_fps": 1000.0}
    assert info["timeout_ms"] == 500


def test_open_backend_auto_picks_hailort(tiny_hef_bundle: Any) -> None:
    be = open_backend(tiny_hef_bundle)
    assert isinstance(be, HailoBackend)
    be.close()
    be.close()  # idempotent


def test_missing_sdk_says_how_to_install(tiny_onnx: Path, tmp_path: Path, no_hailo_sdk: None) -> None:
    bundle = write_bundle(
        tmp_path / "b", name="t", model_file="m.hef", model_format="hef", files={"m.hef": ("model", b"x")},
        inputs=[TensorSpec("in", (1, 16, 16, 3), "uint8")], outputs=[TensorSpec("logits", (1, 5))],
        preprocessing=Preprocessing(size_hw=(16, 16), layout="NHWC"),
    )
    with pytest.raises(BackendError, match="hailo_platform cannot be imported.*Install HailoRT.*vendor/"):
        HailoBackend(bundle)


def test_hailo8_hef_on_hailo8l_device(make_hef_bundle: Any, tiny_onnx: Path, tmp_path: Path) -> None:
    bundle = make_hef_bundle(tmp_path / "h8", tiny_onnx, hw_arch="hailo8")
    with pytest.raises(BackendError, match="compiled for another chip.*HAILO8L.*hailo8l"):
        HailoBackend(bundle)


def test_hailo8l_hef_runs_on_hailo8(tiny_hef_bundle: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HAILO_ARCH", "HAILO8")
    with HailoBackend(tiny_hef_bundle) as hb:
        assert hb.info()["device_arch"] == "HAILO8"
        assert hb.infer(hb.example_input())[0].shape == (1, 5)


def test_hef_input_shape_mismatch_names_both(make_hef_bundle: Any, make_onnx: Any, tmp_path: Path) -> None:
    good = make_hef_bundle(tmp_path / "b32", make_onnx(tmp_path / "m32.onnx", size_hw=(32, 32)))
    small = make_hef_bundle(tmp_path / "b16", make_onnx(tmp_path / "m16.onnx"))
    # the 16x16 bundle's manifest with the 32x32 HEF
    bad = write_bundle(tmp_path / "bad", name="x", model_file="model.hef", model_format="hef",
                       files={"model.hef": ("model", good.model_path)}, inputs=small.manifest.inputs,
                       outputs=small.manifest.outputs, preprocessing=small.manifest.preprocessing)
    with pytest.raises(ModelError, match=r"\[32, 32, 3\].*\[1, 16, 16, 3\]"):
        HailoBackend(bad)


def test_no_device(tiny_hef_bundle: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HAILO_DEVICE_IDS", "")
    with pytest.raises(BackendError, match="no free Hailo device"):
        HailoBackend(tiny_hef_bundle)


def test_unknown_device_id(tiny_hef_bundle: Any) -> None:
    with pytest.raises(BackendError, match="hailortcli scan"):
        HailoBackend(tiny_hef_bundle, device_id="0000:09:00.0")


def test_corrupt_hef(tiny_hef_bundle: Any, tmp_path: Path) -> None:
    m = tiny_hef_bundle.manifest
    bad = write_bundle(tmp_path / "bad", name="x", model_file="model.hef", model_format="hef",
                       files={"model.hef": ("model", tiny_hef_bundle.model_path.read_bytes()[:-40])},
                       inputs=m.inputs, outputs=m.outputs, preprocessing=m.preprocessing)
    with pytest.raises(BackendError, match="HailoRTInvalidHEFException"):
        HailoBackend(bad)


def test_timeout(tiny_hef_bundle: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_HAILO_LATENCY_MS", "300")
    with HailoBackend(tiny_hef_bundle, timeout_ms=20) as hb, pytest.raises(BackendError, match="within 20 ms"):
        hb.infer(hb.example_input())


def test_old_hailort_refused(tiny_hef_bundle: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import hailo_platform

    monkeypatch.setattr(hailo_platform, "__version__", "4.17.0")
    with pytest.raises(BackendError, match=">= 4.18"):
        HailoBackend(tiny_hef_bundle)


def test_onnx_bundle_refused(tiny_bundle: Any, hailo_fakes: Any) -> None:
    with pytest.raises(BackendError, match="onnxruntime"):
        HailoBackend(tiny_bundle)


def test_float_input_refused(tiny_hef_bundle: Any) -> None:
    with HailoBackend(tiny_hef_bundle) as hb, pytest.raises(BackendError, match="uint8"):
        hb.infer(np.zeros((1, 16, 16, 3), np.float32))


def test_fakes_are_invisible_without_the_fixture() -> None:
    spec = importlib.util.find_spec("hailo_platform")
    assert spec is None or "tests/fakes" not in str(spec.origin)
