"""The fake HEF file format shared by the fake DFC (``hailo_sdk_client``) and the fake HailoRT
(``hailo_platform``) under tests/fakes. Tests only; never imported by edgenas itself.

A real HEF is an opaque binary made by the Hailo Dataflow Compiler. The fake one carries what
the fakes need to behave like the real pair and to compute *real* outputs:

    bytes 0..15   MAGIC = b"EDGENAS_FAKE_HEF"
    bytes 16..19  header length N, uint32 little-endian
    bytes 20..    N bytes of UTF-8 JSON header (below), then the ONNX model bytes to the end

Header keys (all written by ``fake_hef_bytes``):

    format_version   1
    hw_arch          "hailo8l" | "hailo8" | "hailo8r" | ... (what ClientRunner(hw_arch=) was given)
    network_group    network group name (a real HEF's is the net_name given to the DFC)
    input            {"name": "<ng>/input_layer1", "shape": [H, W, C]}   (NHWC, no batch dim, uint8)
    outputs          [{"name": "<ng>/<onnx output>", "shape": [...no batch...], "onnx_name": str,
                       "qp_scale": float, "qp_zp": float}]  (quantization of a UINT8 output read)
    normalization    {"mean": [R, G, B], "std": [R, G, B]} on the 0-255 scale, applied on "the chip"
                     to the uint8 input, exactly like a DFC ``normalization`` layer (empty lists: none)
    onnx_input       {"name": str, "layout": "NCHW" | "NHWC"}   how to feed the embedded ONNX
    onnx_sha256      hash of the embedded ONNX bytes (a truncated file fails to load)
    contexts         int >= 1 (1 = single context; HEF(...).get_network_groups_infos()[0].is_multi_context)
    bottleneck_fps   float > 0 (HEF(...).bottleneck_fps())
    dfc_version      str

Use ``fake_hef_bytes(onnx, ...)`` (what a fake ``ClientRunner.compile()`` returns),
``write_fake_hef(path, onnx, ...)`` and ``read_fake_hef(path_or_bytes) -> FakeHef``.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAGIC = b"EDGENAS_FAKE_HEF"
FORMAT_VERSION = 1
HW_ARCHS = ("hailo8", "hailo8l", "hailo8r", "hailo15h", "hailo15m", "hailo15l", "hailo10h")


class FakeHefError(ValueError):
    """The bytes are not a (complete) fake HEF."""


@dataclass(frozen=True)
class FakeHef:
    header: dict[str, Any]
    onnx_bytes: bytes

    @property
    def hw_arch(self) -> str:
        return str(self.header["hw_arch"])

    @property
    def input_shape(self) -> tuple[int, int, int]:
        h, w, c = self.header["input"]["shape"]
        return int(h), int(w), int(c)


def _onnx_io(onnx_bytes: bytes) -> tuple[tuple[str, list[Any]], list[tuple[str, list[Any]]]]:
    import onnxruntime as ort

    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    return (inp.name, list(inp.shape)), [(o.name, list(o.shape)) for o in sess.get_outputs()]


def fake_hef_bytes(
    onnx: bytes | str | Path, *, hw_arch: str = "hailo8l", network_group: str = "net",
    mean: tuple[float, ...] | list[float] = (), std: tuple[float, ...] | list[float] = (),
    contexts: int = 1, bottleneck_fps: float = 1000.0, dfc_version: str = "3.31.0-fake",
    qp_scale: float = 0.05, qp_zp: float = 128.0,
) -> bytes:
    """Build a fake HEF around an ONNX model (static 3-channel image input, NCHW or NHWC)."""
    onnx_bytes = onnx if isinstance(onnx, bytes) else Path(onnx).read_bytes()
    if hw_arch not in HW_ARCHS:
        raise FakeHefError(f"unknown hw_arch {hw_arch!r}")
    (in_name, in_shape), outs = _onnx_io(onnx_bytes)
    dims = [d if isinstance(d, int) else 1 for d in in_shape]
    if len(dims) != 4 or 3 not in (dims[1], dims[3]):
        raise FakeHefError(f"the ONNX input {in_name} {in_shape} is not a 3-channel image tensor")
    layout = "NCHW" if dims[1] == 3 else "NHWC"
    h, w = (dims[2], dims[3]) if layout == "NCHW" else (dims[1], dims[2])
    header = {
        "format_version": FORMAT_VERSION, "hw_arch": hw_arch, "network_group": network_group,
        "input": {"name": f"{network_group}/input_layer1", "shape": [h, w, 3]},
        "outputs": [{"name": f"{network_group}/{name}", "onnx_name": name,
                     "shape": [d if isinstance(d, int) else 1 for d in shape[1:]],
                     "qp_scale": qp_scale, "qp_zp": qp_zp} for name, shape in outs],
        "normalization": {"mean": [float(v) for v in mean], "std": [float(v) for v in std]},
        "onnx_input": {"name": in_name, "layout": layout},
        "onnx_sha256": hashlib.sha256(onnx_bytes).hexdigest(),
        "contexts": int(contexts), "bottleneck_fps": float(bottleneck_fps), "dfc_version": dfc_version,
    }
    blob = json.dumps(header).encode()
    return MAGIC + struct.pack("<I", len(blob)) + blob + onnx_bytes


def write_fake_hef(path: str | Path, onnx: bytes | str | Path, **kwargs: Any) -> Path:
    path = Path(path)
    path.write_bytes(fake_hef_bytes(onnx, **kwargs))
    return path


def read_fake_hef(source: bytes | str | Path) -> FakeHef:
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    if len(data) < 20 or data[:16] != MAGIC:
        raise FakeHefError("not a HEF (bad magic)")
    (n,) = struct.unpack("<I", data[16:20])
    try:
        header = json.loads(data[20:20 + n])
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FakeHefError(f"corrupt HEF header: {exc}") from exc
    onnx_bytes = data[20 + n:]
    if header.get("format_version") != FORMAT_VERSION:
        raise FakeHefError(f"unsupported fake HEF version {header.get('format_version')!r}")
    if hashlib.sha256(onnx_bytes).hexdigest() != header.get("onnx_sha256"):
        raise FakeHefError("HEF body is truncated or corrupt")
    return FakeHef(header=header, onnx_bytes=onnx_bytes)
