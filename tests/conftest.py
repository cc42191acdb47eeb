"""Shared pytest fixtures for every part. Reuse them instead of building your own models.

Models (built with ``onnx.helper``, no torch; deterministic weights):

* ``make_onnx(path, **kw) -> Path`` (function): writes a tiny image classifier
  ``input -> Conv3x3(3->4)+ReLU -> GlobalAveragePool -> Flatten -> Gemm -> logits``.
  Keywords: ``size_hw=(16, 16)`` (strings such as ``("H", "W")`` make dynamic dims), ``classes=5``,
  ``input_name="input"``, ``output_name="logits"``,
  ``batch=1`` (an int, or a string such as ``"N"`` for a dynamic batch dim), ``layout="NCHW"``
  (``"NHWC"`` adds a Transpose in front), ``seed=0``.
* ``tiny_onnx`` (session): the path of ``make_onnx`` with the defaults (1x3x16x16 float32 in,
  1x5 out; ONNX opset 13).
* ``tiny_bundle`` (function): a fresh, valid ONNX bundle of ``tiny_onnx`` in ``tmp_path/"tiny_bundle"``
  (mean 0, std 255, RGB, NCHW, classes ``c0..c4``); a ``Bundle`` (``.root`` is the directory).
  Tests may break it freely.

Hailo SDK fakes (tests/fakes/: ``hailo_platform``, ``hailo_sdk_client``, ``fakehef``):

* ``hailo_fakes`` (function): puts tests/fakes first on ``sys.path`` for this test only and
  clears cached modules before and after, so the fakes are never visible to a test that did not
  ask for them. Yields the ``fakehef`` module (``write_fake_hef`` / ``read_fake_hef``).
* ``tiny_hef_bundle`` (function, uses ``hailo_fakes``): a HEF bundle in ``tmp_path/"tiny_hef_bundle"``
  whose fake HEF (hailo8l) wraps ``tiny_onnx`` with ImageNet mean/std normalization on the chip;
  manifest input ``net/input_layer1`` (1, 16, 16, 3) uint8 NHWC, output ``logits`` (1, 5).
  ``make_hef_bundle(out, onnx, mean=..., std=..., **fake_hef_kwargs)`` builds others like it.
* ``no_hailo_sdk`` (function): makes ``import hailo_platform`` and ``import hailo_sdk_client``
  fail for this test, as on a machine without the SDKs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

FAKES = Path(__file__).parent / "fakes"
FAKE_MODULES = ("hailo_platform", "hailo_sdk_client", "hailo_model_optimization", "fakehef")


def build_tiny_onnx(
    path: Path, *, size_hw: tuple[int | str, int | str] = (16, 16), classes: int = 5, input_name: str = "input",
    output_name: str = "logits", batch: int | str = 1, layout: str = "NCHW", seed: int = 0,
) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    h, w = size_hw
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.5, (4, 3, 3, 3)).astype(np.float32), "conv_w"),
        numpy_helper.from_array(rng.normal(0, 0.1, (4,)).astype(np.float32), "conv_b"),
        numpy_helper.from_array(rng.normal(0, 0.5, (classes, 4)).astype(np.float32), "fc_w"),
        numpy_helper.from_array(rng.normal(0, 0.1, (classes,)).astype(np.float32), "fc_b"),
    ]
    nodes = []
    first = input_name
    if layout == "NHWC":
        nodes.append(helper.make_node("Transpose", [input_name], ["nchw"], perm=[0, 3, 1, 2]))
        first = "nchw"
    nodes += [
        helper.make_node("Conv", [first, "conv_w", "conv_b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], [output_name], transB=1),
    ]
    in_shape = [batch, 3, h, w] if layout == "NCHW" else [batch, h, w, 3]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [batch, classes])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def make_onnx() -> Any:
    return build_tiny_onnx


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_onnx(tmp_path_factory.mktemp("models") / "tiny.onnx")


@pytest.fixture
def tiny_bundle(tiny_onnx: Path, tmp_path: Path) -> Any:
    from edgenas.runtime.bundle import Preprocessing, TensorSpec, write_bundle

    return write_bundle(
        tmp_path / "tiny_bundle", name="tiny", model_file="model.onnx", model_format="onnx",
        files={"model.onnx": ("model", tiny_onnx)},
        inputs=[TensorSpec("input", (1, 3, 16, 16))], outputs=[TensorSpec("logits", (1, 5))],
        preprocessing=Preprocessing(size_hw=(16, 16)), classes=[f"c{i}" for i in range(5)],
    )


def _forget_fake_modules() -> None:
    for name in list(sys.modules):
        if name.split(".")[0] in FAKE_MODULES:
            del sys.modules[name]


@pytest.fixture
def hailo_fakes(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    _forget_fake_modules()
    monkeypatch.syspath_prepend(str(FAKES))
    import fakehef

    yield fakehef
    _forget_fake_modules()


IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


@pytest.fixture
def make_hef_bundle(hailo_fakes: ModuleType) -> Any:
    from edgenas.runtime.bundle import Preprocessing, TensorSpec, write_bundle

    def make(out: Path, onnx: Path, *, mean: tuple[float, ...] = IMAGENET_MEAN,
             std: tuple[float, ...] = IMAGENET_STD, **hef_kwargs: Any) -> Any:
        hef = hailo_fakes.fake_hef_bytes(onnx, mean=mean, std=std, **hef_kwargs)
        header = hailo_fakes.read_fake_hef(hef).header
        h, w, _ = header["input"]["shape"]
        return write_bundle(
            out, name="tiny-hef", model_file="model.hef", model_format="hef",
            files={"model.hef": ("model", hef)},
            inputs=[TensorSpec(header["input"]["name"], (1, h, w, 3), "uint8")],
            outputs=[TensorSpec(o["onnx_name"], (1, *o["shape"])) for o in header["outputs"]],
            preprocessing=Preprocessing(size_hw=(h, w), mean_pixel=mean, std_pixel=std, layout="NHWC"),  # type: ignore[arg-type]
        )

    return make


@pytest.fixture
def tiny_hef_bundle(make_hef_bundle: Any, tiny_onnx: Path, tmp_path: Path) -> Any:
    return make_hef_bundle(tmp_path / "tiny_hef_bundle", tiny_onnx)


@pytest.fixture
def no_hailo_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _forget_fake_modules()
    for name in FAKE_MODULES[:3]:
        monkeypatch.setitem(sys.modules, name, None)  # import raises ModuleNotFoundError
    yield
