"""The fake hailo_platform itself: the documented API surface (hailo.md §3.1, §6) behaves as described."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest


@pytest.fixture
def hef_path(hailo_fakes: Any, tiny_onnx: Path, tmp_path: Path) -> str:
    return str(hailo_fakes.write_fake_hef(tmp_path / "m.hef", tiny_onnx, contexts=3, bottleneck_fps=123.0,
                                          mean=(0, 0, 0), std=(255, 255, 255)))


def test_hef_offline_introspection(hef_path: str) -> None:
    from hailo_platform import HEF

    hef = HEF(hef_path)
    (info,) = hef.get_input_vstream_infos()
    assert info.name == "net/input_layer1" and tuple(info.shape) == (16, 16, 3)
    assert hef.get_network_groups_infos()[0].is_multi_context is True
    assert hef.bottleneck_fps() == 123.0
    assert [o.name for o in hef.get_output_vstream_infos()] == ["net/logits"]
    with pytest.raises(ValueError):
        HEF(123)  # type: ignore[arg-type]


def test_documented_sync_and_async_flow(hef_path: str, tiny_onnx: Path) -> None:
    import onnxruntime as ort
    from hailo_platform import FormatType, HailoSchedulingAlgorithm, VDevice

    x = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    ref = ort.InferenceSession(str(tiny_onnx)).run(None, {"input": (x / 255.0).astype(np.float32).transpose(2, 0, 1)[None]})[0]
    params = VDevice.create_params()
    params.scheduling_algorithm = HailoSchedulingAlgorithm.ROUND_ROBIN
    with VDevice(params) as vdevice:
        im = vdevice.create_infer_model(hef_path)
        im.set_batch_size(1)
        im.input().set_format_type(FormatType.UINT8)
        for o in im.outputs:
            o.set_format_type(FormatType.FLOAT32)
        with im.configure() as cim:
            b = cim.create_bindings(output_buffers={o.name: np.empty(o.shape, np.float32) for o in im.outputs})
            b.input().set_buffer(x)
            cim.run([b], 1000)
            np.testing.assert_allclose(b.output(im.output_names[0]).get_buffer(), ref[0], rtol=1e-5, atol=1e-6)
            seen: list[Any] = []
            cim.wait_for_async_ready(timeout_ms=1000)
            job = cim.run_async([b], lambda completion_info: seen.append(completion_info))
            job.wait(1000)
            assert len(seen) == 1 and seen[0].exception is None


def test_outputs_default_to_quantized_uint8(hef_path: str) -> None:
    from hailo_platform import VDevice

    with VDevice() as vdevice:
        im = vdevice.create_infer_model(hef_path)
        (o,) = im.outputs
        with im.configure() as cim:
            b = cim.create_bindings(output_buffers={o.name: np.empty(o.shape, np.uint8)})
            b.input().set_buffer(np.zeros((16, 16, 3), np.uint8))
            cim.run([b], 1000)
            q = o.quant_infos[0]
            assert b.output().get_buffer().dtype == np.uint8 and q.qp_scale == 0.05


def test_wrong_buffer_size_and_layout(hef_path: str) -> None:
    from hailo_platform import HailoRTException, VDevice

    with VDevice() as vdevice:
        im = vdevice.create_infer_model(hef_path)
        with im.configure() as cim:
            b = cim.create_bindings()
            with pytest.raises(HailoRTException, match="different than expected 768"):
                b.input().set_buffer(np.zeros((16, 16, 3), np.float32))
            with pytest.raises(HailoRTException, match="C_CONTIGUOUS"):
                b.input().set_buffer(np.zeros((16, 3, 16), np.uint8).transpose(0, 2, 1))
            with pytest.raises(HailoRTException):
                cim.run([b], 1000)  # no buffers set


def test_arch_mismatch_raises_invalid_hef(hailo_fakes: Any, tiny_onnx: Path, tmp_path: Path) -> None:
    from hailo_platform import HailoRTException, VDevice
    from hailo_platform.pyhailort.pyhailort import HailoRTInvalidHEFException

    path = str(hailo_fakes.write_fake_hef(tmp_path / "h8.hef", tiny_onnx, hw_arch="hailo8"))
    with VDevice() as vdevice:
        im = vdevice.create_infer_model(path)
        with pytest.raises(HailoRTInvalidHEFException, match="Device arch: HAILO8L, HEF arch: HAILO8"):
            im.configure()
    assert issubclass(HailoRTInvalidHEFException, HailoRTException)
