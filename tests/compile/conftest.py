"""Fixtures of the compile tests: ONNX bundles that carry a calibration sample.

* ``make_calib_bundle(out, onnx, n=32, mean=..., std=..., size_hw=(16, 16))``: an ONNX bundle of
  ``onnx`` (input ``input`` NCHW, output ``logits``) with ``calibration.npy`` = ``n`` uint8
  (N, H, W, 3) images (smooth random blobs, seeded), or none when ``n == 0``.
* ``calib_bundle``: ``tiny_onnx`` with 32 calibration images, ImageNet mean/std.
* ``convnet(path, ...)`` (the function ``build_convnet``): a bigger classifier (two 3x3 convs, 16/32 channels, Gemm 32->10)
  for quantization tests, plus ops inserted on request (``extra_op="Resize"`` / ``"Erf"``).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def calibration_images(n: int, size_hw: tuple[int, int], seed: int = 0) -> np.ndarray:
    """Smooth coloured blobs: upsampled 4x4 random images (a little like natural images)."""
    rng = np.random.default_rng(seed)
    h, w = size_hw
    small = rng.integers(0, 256, size=(n, 4, 4, 3)).astype(np.float32)
    ys, xs = (np.arange(h) * 4 // h), (np.arange(w) * 4 // w)
    img = small[:, ys][:, :, xs] + rng.normal(0, 8, size=(n, h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def build_convnet(path: Path, *, size_hw: tuple[int, int] = (16, 16), classes: int = 10, extra_op: str | None = None,
                  batch: int | str = 1, opset: int = 13, seed: int = 1) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    h, w = size_hw
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for n, a in [
        ("w1", rng.normal(0, 0.2, (16, 3, 3, 3))), ("b1", rng.normal(0, 0.1, (16,))),
        ("w2", rng.normal(0, 0.1, (32, 16, 3, 3))), ("b2", rng.normal(0, 0.1, (32,))),
        ("fc_w", rng.normal(0, 0.3, (classes, 32))), ("fc_b", rng.normal(0, 0.1, (classes,)))]]
    nodes = [helper.make_node("Conv", ["input", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1], name="/conv1/Conv"),
             helper.make_node("Relu", ["c1"], ["r1"], name="/relu1/Relu")]
    last = "r1"
    if extra_op == "Resize":
        inits.append(numpy_helper.from_array(np.array([1, 1, 1, 1], np.float32), "scales"))
        nodes.append(helper.make_node("Resize", ["r1", "", "scales"], ["rs"], mode="nearest", name="/up/Resize"))
        last = "rs"
    elif extra_op == "Erf":
        nodes.append(helper.make_node("Erf", ["r1"], ["rs"], name="/gelu/Erf"))
        last = "rs"
    nodes += [helper.make_node("Conv", [last, "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2], name="/conv2/Conv"),
              helper.make_node("Relu", ["c2"], ["r2"], name="/relu2/Relu"),
              helper.make_node("GlobalAveragePool", ["r2"], ["g"], name="/pool/GlobalAveragePool"),
              helper.make_node("Flatten", ["g"], ["f"], axis=1, name="/flatten/Flatten"),
              helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], transB=1, name="/fc/Gemm")]
    graph = helper.make_graph(nodes, "convnet",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, h, w])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def convnet() -> Any:
    return build_convnet


@pytest.fixture
def make_calib_bundle() -> Any:
    from edgenas.runtime.bundle import Preprocessing, TensorSpec, write_bundle

    def make(out: Path, onnx: Path, *, n: int = 32, mean: tuple[float, ...] = IMAGENET_MEAN,
             std: tuple[float, ...] = IMAGENET_STD, size_hw: tuple[int, int] = (16, 16), classes: int = 5,
             input_shape: tuple[int, ...] | None = None) -> Any:
        files: dict[str, tuple[str, Any]] = {"model.onnx": ("model", onnx)}
        if n:
            files["calibration.npy"] = ("calibration", npy_bytes(calibration_images(n, size_hw)))
        return write_bundle(
            out, name="tiny", model_file="model.onnx", model_format="onnx", files=files,
            inputs=[TensorSpec("input", input_shape or (1, 3, *size_hw))], outputs=[TensorSpec("logits", (1, classes))],
            preprocessing=Preprocessing(size_hw=size_hw, mean_pixel=mean, std_pixel=std),  # type: ignore[arg-type]
            classes=[f"c{i}" for i in range(classes)],
        )

    return make


@pytest.fixture
def calib_bundle(make_calib_bundle: Any, tiny_onnx: Path, tmp_path: Path) -> Any:
    return make_calib_bundle(tmp_path / "calib_bundle", tiny_onnx)
