"""The fake hailo_sdk_client behaves like the documented DFC API (reference/hailo.md §1, §6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

NORM = "normalization1 = normalization([123.675, 116.28, 103.53], [58.395, 57.12, 57.375])\n"


@pytest.fixture
def sdk(hailo_fakes: Any) -> Any:
    import hailo_sdk_client

    return hailo_sdk_client


def _parsed(sdk: Any, onnx: Path, **kw: Any) -> Any:
    runner = sdk.ClientRunner(hw_arch="hailo8l")
    runner.translate_onnx_model(str(onnx), "net", start_node_names=["input"],
                                net_input_shapes={"input": [1, 3, 16, 16]}, **kw)
    return runner


def test_translate_returns_hn_and_params(sdk: Any, tiny_onnx: Path) -> None:
    runner = sdk.ClientRunner(hw_arch="hailo8l")
    assert runner.state == sdk.States.UNINITIALIZED
    hn, npz = runner.translate_onnx_model(str(tiny_onnx), "net", start_node_names=["input"],
                                          net_input_shapes={"input": [1, 3, 16, 16]})
    inputs = [k for k, v in hn["layers"].items() if v["type"] == "input_layer"]
    assert inputs == ["net/input_layer1"] and hn["layers"]["net/input_layer1"]["input_shapes"] == [[-1, 16, 16, 3]]
    assert "conv_w" in npz and runner.state == sdk.States.HAILO_MODEL
    assert runner.get_hn_dict()["net_params"]["output_layers_order"] == ["net/output_layer1"]


def test_translate_errors(sdk: Any, convnet: Any, tiny_onnx: Path, make_onnx: Any, tmp_path: Path) -> None:
    from hailo_sdk_client.model_translator.exceptions import (
        MisspellNodeError,
        ParsingWithRecommendationException,
        UnsupportedModelError,
    )

    with pytest.raises(ParsingWithRecommendationException) as info:
        _parsed(sdk, convnet(tmp_path / "r.onnx", extra_op="Resize"))
    assert info.value.recommended_end_node_names == ["/relu1/Relu"]
    assert "recommendations for end node names" in str(info.value)
    runner = _parsed(sdk, convnet(tmp_path / "r.onnx", extra_op="Resize"), end_node_names=["/relu1/Relu"])
    assert runner.state == sdk.States.HAILO_MODEL  # cut before the unsupported op
    with pytest.raises(MisspellNodeError):
        _parsed(sdk, tiny_onnx, end_node_names=["nope"])
    with pytest.raises(UnsupportedModelError):
        sdk.ClientRunner().translate_onnx_model(str(make_onnx(tmp_path / "d.onnx", batch="N")), "net")
    with pytest.raises(ValueError):
        sdk.ClientRunner(hw_arch="hailo9")


def test_model_script_parsing(sdk: Any, tiny_onnx: Path, tmp_path: Path) -> None:
    from hailo_sdk_client._script import ModelScriptError

    runner = _parsed(sdk, tiny_onnx)
    path = tmp_path / "m.alls"
    path.write_text(NORM + "# comment\nmodel_optimization_flavor(optimization_level=0, compression_level=1)\n")
    runner.load_model_script(str(path))
    runner.load_model_script("performance_param(compiler_optimization_level=max)", append=True)
    assert runner._flavor("compression_level", None) == 1 and runner._normalization() is not None
    for bad in ("normalization([1, 2], [3, 4])", "not_a_command(1)", "model_optimization_flavor(optimization_level=9)",
                "normalization([0, 0, 0], [0, 1, 1])"):
        with pytest.raises(ModelScriptError):
            runner.load_model_script(bad)


def test_optimize_validates_calibration(sdk: Any, tiny_onnx: Path) -> None:
    runner = _parsed(sdk, tiny_onnx)
    runner.load_model_script(NORM)
    with pytest.raises(ValueError, match="NHWC"):
        runner.optimize(np.zeros((4, 3, 16, 16), np.float32))
    with pytest.raises(ValueError, match="float32"):
        runner.optimize(np.zeros((4, 16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="input layers"):
        runner.optimize({"wrong": np.zeros((4, 16, 16, 3), np.float32)})
    with pytest.raises(RuntimeError, match="quantized"):
        runner.compile()
    runner.optimize({"net/input_layer1": np.full((4, 16, 16, 3), 100, np.float32)})
    assert runner.state == sdk.States.QUANTIZED_MODEL


def test_emulation_contexts_and_har_roundtrip(sdk: Any, tiny_onnx: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    runner = _parsed(sdk, tiny_onnx)
    runner.load_model_script(NORM)
    x = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3)).astype(np.float32)
    runner.optimize(x)
    mean, std = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])
    ref = ort.InferenceSession(str(tiny_onnx)).run(None, {"input": ((x[:1] - mean) / std).transpose(0, 3, 1, 2)
                                                          .astype(np.float32)})[0]
    with runner.infer_context(sdk.InferenceContext.SDK_FP_OPTIMIZED) as ctx:
        fp = runner.infer(ctx, x[:1])
    with runner.infer_context(sdk.InferenceContext.SDK_QUANTIZED) as ctx:
        q = runner.infer(ctx, x[:1])
    assert fp.dtype == np.float32 and q.dtype == np.float32
    np.testing.assert_allclose(fp, ref, atol=1e-5)
    assert np.abs(q - ref).max() <= runner._meta["qp_scale"]  # one quantization step
    with pytest.raises(RuntimeError, match="No Hailo"), runner.infer_context(sdk.InferenceContext.SDK_HAILO_HW):
        pass
    hef = runner.compile()
    assert isinstance(hef, bytes) and runner.state == sdk.States.COMPILED_MODEL
    runner.save_har(tmp_path / "m.har")
    again = sdk.ClientRunner(har=str(tmp_path / "m.har"))
    assert again.state == sdk.States.COMPILED_MODEL and again.hw_arch == "hailo8l"
    prof = again.profile()
    assert prof["stats"]["contexts"] == 1 and prof["stats"]["fps"] > 0 and "latency_data" in prof


def test_resource_model_multi_context(sdk: Any, tiny_onnx: Path, hailo_fakes: Any) -> None:
    from hailo_sdk_client import _resources

    runner = _parsed(sdk, tiny_onnx)
    runner.load_model_script(NORM + "resources_param(max_memory_utilization=0.000001)\n")
    runner.optimize(np.full((2, 16, 16, 3), 50, np.float32))
    header = hailo_fakes.read_fake_hef(runner.compile()).header
    params = _resources.count(__import__("onnx").load(str(tiny_onnx)))["params_bytes"]
    assert header["contexts"] == int(np.ceil(params / (12 * 2**20 * 1e-6)))
    assert header["contexts"] > 1 and header["bottleneck_fps"] < _resources.MAX_FPS
