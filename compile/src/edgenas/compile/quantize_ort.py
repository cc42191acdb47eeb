"""The CPU target's compile step: ONNX Runtime static INT8 quantization (QDQ format).

Activations are calibrated on the bundle's calibration sample (normalized exactly as the
manifest says), weights are quantized per channel to int8. The result is a new ONNX bundle whose
``parent`` is the input bundle; ``compile_report.json`` records sizes and settings.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgenas.compile.calibration import load_calibration, normalize
from edgenas.compile.errors import CompileError
from edgenas.runtime.bundle import Bundle, derive_bundle
from edgenas.runtime.provenance import provenance

log = logging.getLogger(__name__)

QUANT_MODEL_FILE = "model.int8.onnx"
REPORT_FILE = "compile_report.json"


@dataclass(frozen=True)
class QuantizeConfig:
    calib: int | None = None
    per_channel: bool = True
    method: str = "minmax"  # or "entropy", "percentile"

    def __post_init__(self) -> None:
        if self.method not in _METHODS:
            raise CompileError(f"calibration method {self.method!r} is not one of {sorted(_METHODS)}")


_METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


class _Reader:
    """onnxruntime.quantization.CalibrationDataReader over a normalized array, one image per call."""

    def __init__(self, input_name: str, x: np.ndarray) -> None:
        self.input_name, self.x, self.i = input_name, x, 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        if self.i >= len(self.x):
            return None
        self.i += 1
        return {self.input_name: self.x[self.i - 1 : self.i]}

    def rewind(self) -> None:
        self.i = 0


def quantize_bundle(bundle: Bundle, out: str | Path, config: QuantizeConfig | None = None) -> Bundle:
    config = config or QuantizeConfig()
    m = bundle.manifest
    if m.model_format != "onnx":
        raise CompileError(f"`edgenas compile quantize` needs an ONNX bundle; {bundle.root} holds {m.model_format!r}")
    if m.provenance.get("quantized"):
        raise CompileError(f"{bundle.root} is already quantized; quantize its parent float bundle instead")
    raw = load_calibration(bundle, config.calib)
    x = normalize(raw, m.preprocessing)
    with tempfile.TemporaryDirectory(prefix="edgenas-quant-") as tmp:
        qpath = Path(tmp) / QUANT_MODEL_FILE
        _quantize(bundle.model_path, qpath, _Reader(m.inputs[0].name, x), config)
        before, after = bundle.model_path.stat().st_size, qpath.stat().st_size
        report = {"stage": "quantize", "target": "onnxruntime-cpu", "format": "QDQ", "activations": "uint8",
                  "weights": "int8", "calibration_images": int(len(x)), "config": asdict(config),
                  "size_bytes_before": before, "size_bytes_after": after,
                  "size_ratio": round(after / before, 4), "parent_model_file": m.model_file}
        log.info("quantized %s: %d -> %d bytes (%.1f%%)", m.model_file, before, after, 100 * after / before)
        new = derive_bundle(
            bundle, out, drop_files=[m.model_file],
            replace_files={QUANT_MODEL_FILE: ("model", qpath), REPORT_FILE: ("report", _json_bytes(report))},
            model_file=QUANT_MODEL_FILE, model_format="onnx", latency={},
            provenance={**provenance("compile-quantize", config=asdict(config)), "quantized": "int8-qdq"},
        )
    return new


QDQ_MIN_OPSET = 13  # per-channel DequantizeLinear (its `axis` attribute) needs opset 13


def _quantize(src: Path, dst: Path, reader: _Reader, config: QuantizeConfig) -> None:
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    model = onnx.load(str(src))
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < QDQ_MIN_OPSET:
        # Search exports use opset 11 for the Hailo DFC; QDQ with per-channel scales needs 13.
        log.info("converting the model from opset %d to %d for QDQ quantization", opset, QDQ_MIN_OPSET)
        src = dst.with_name("opset13.onnx")
        onnx.save(onnx.version_converter.convert_version(model, QDQ_MIN_OPSET), str(src))
    try:
        quantize_static(
            str(src), str(dst), reader, quant_format=QuantFormat.QDQ, per_channel=config.per_channel,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            calibrate_method=getattr(CalibrationMethod, _METHODS[config.method]),
        )
    except Exception as exc:  # ORT raises many unrelated types
        raise CompileError(f"ONNX Runtime quantization failed: {exc}; run `edgenas compile check "
                           "--target onnxruntime-cpu` on the bundle") from exc
    try:  # never write a bundle ONNX Runtime cannot load
        ort.InferenceSession(str(dst), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise CompileError(f"the quantized model does not load in ONNX Runtime ({str(exc)[:300]}); "
                           "try --method minmax or report the model") from exc


def _json_bytes(obj: Any) -> bytes:
    import json

    return (json.dumps(obj, indent=2) + "\n").encode()
