"""Static checks of a bundle's ONNX model for a compile target: each finding says the fix.

Blocking findings (``error``) make ``edgenas compile check`` exit 1; ``warning`` and ``info``
do not.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgenas.compile.calibration import RECOMMENDED_IMAGES, calibration_path
from edgenas.compile.targets import (
    HAILO_FLAGGED_OPS,
    HAILO_SUPPORTED_OPS,
    ORT_NEEDS_NOTHING,
    Target,
    get_target,
)
from edgenas.runtime.bundle import Bundle

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Finding:
    level: str
    code: str
    message: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class CheckReport:
    target: str
    bundle: str
    findings: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        return not any(f.level == ERROR for f in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "bundle": self.bundle, "ok": self.ok,
                "findings": [f.to_dict() for f in self.findings]}


def check_bundle(bundle: Bundle, target_name: str) -> CheckReport:
    target = get_target(target_name)
    findings: list[Finding] = []
    model = _load_onnx(bundle, findings)
    if model is not None:
        for check in _MODEL_CHECKS[target.kind]:
            findings += check(bundle, model, target)
    findings += _check_calibration(bundle, target)
    return CheckReport(target.name, str(bundle.root), tuple(findings))


def _load_onnx(bundle: Bundle, findings: list[Finding]) -> Any:
    import onnx

    m = bundle.manifest
    if m.model_format != "onnx":
        findings.append(Finding(ERROR, "not-onnx", f"the bundle's model is {m.model_format!r}, not ONNX",
                                "check the ONNX bundle this one was made from (see its manifest 'parent')"))
        return None
    try:
        model = onnx.load(str(bundle.model_path))
        onnx.checker.check_model(model)
    except Exception as exc:  # onnx raises several unrelated types
        findings.append(Finding(ERROR, "onnx-invalid", f"{m.model_file} is not a valid ONNX model: {exc}",
                                "re-export the model with torch.onnx.export"))
        return None
    return model


def _graph_inputs(model: Any) -> list[Any]:
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits]


def _dims(value_info: Any) -> list[int | str]:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in value_info.type.tensor_type.shape.dim]


def check_shapes(bundle: Bundle, model: Any, target: Target) -> list[Finding]:
    out: list[Finding] = []
    inputs = _graph_inputs(model)
    if len(inputs) != 1:
        return [Finding(ERROR, "inputs", f"the model has {len(inputs)} inputs; a bundle model has exactly one",
                        "export the network with a single image input")]
    dims = _dims(inputs[0])
    level = ERROR if target.kind == "hailo" else WARNING
    if any(not isinstance(d, int) or d <= 0 for d in dims):
        out.append(Finding(level, "dynamic-shape", f"input {inputs[0].name!r} has dynamic dims {dims}",
                           "export with a fixed input shape (no dynamic_axes) or fix it with "
                           "onnxruntime.tools.make_dynamic_shape_fixed, then run onnx-simplifier"))
    elif dims[0] != 1:
        out.append(Finding(level, "batch", f"input batch size is {dims[0]}, not 1",
                           "export with a batch-1 dummy input; latency is measured per frame"))
    spec = bundle.manifest.inputs[0]
    if spec.name != inputs[0].name:
        out.append(Finding(ERROR, "input-name", f"the manifest input {spec.name!r} is not the ONNX input "
                           f"{inputs[0].name!r}", "re-create the bundle so the manifest names the ONNX input"))
    elif all(isinstance(d, int) and d > 0 for d in dims) and tuple(dims) != tuple(spec.shape):
        out.append(Finding(ERROR, "input-shape", f"ONNX input shape {dims} differs from the manifest {list(spec.shape)}",
                           "re-create the bundle from the exported model"))
    return out


def check_opset(bundle: Bundle, model: Any, target: Target) -> list[Finding]:
    out: list[Finding] = []
    for imp in model.opset_import:
        if imp.domain not in ("", "ai.onnx"):
            level = ERROR if target.kind == "hailo" else INFO
            out.append(Finding(level, "custom-domain", f"the model imports operator domain {imp.domain!r}",
                               "export with standard ONNX ops only (no contrib or custom ops)"))
            continue
        v = imp.version
        if not target.opset_min <= v <= target.opset_max:
            out.append(Finding(ERROR, "opset", f"ONNX opset {v} is outside {target.opset_min}..{target.opset_max} "
                               f"accepted for {target.name}",
                               f"re-export with torch.onnx.export(..., opset_version={target.opset_recommended[0]}, "
                               "dynamo=False) (the dynamo exporter writes opset 18)"))
        elif not target.opset_recommended[0] <= v <= target.opset_recommended[1]:
            lo, hi = target.opset_recommended
            out.append(Finding(WARNING, "opset", f"ONNX opset {v}; {lo}..{hi} is the tested range for {target.name}",
                               f"re-export with opset_version={lo} if parsing fails"))
    return out


def check_hailo_ops(bundle: Bundle, model: Any, target: Target) -> list[Finding]:
    seen: dict[str, list[str]] = {}
    for node in model.graph.node:
        if node.op_type not in HAILO_SUPPORTED_OPS:
            seen.setdefault(node.op_type, []).append(node.name or node.output[0])
    out = []
    for op, names in sorted(seen.items()):
        where = ", ".join(names[:3]) + (" …" if len(names) > 3 else "")
        fix = HAILO_FLAGGED_OPS.get(op, "replace it with a supported op, or cut the graph before it "
                                        "(edgenas compile hef --end-node NAME)")
        kind = "flagged" if op in HAILO_FLAGGED_OPS else "not on the supported list"
        out.append(Finding(ERROR, "unsupported-op", f"{op} ({kind}) at {where}", fix))
    out += _check_clip(model)
    return out


def _check_clip(model: Any) -> list[Finding]:
    from onnx import numpy_helper

    consts = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    out = []
    for node in model.graph.node:
        if node.op_type != "Clip":
            continue
        bounds = [float(np.asarray(consts[n]).reshape(-1)[0]) if n in consts else None for n in node.input[1:3]]
        attrs = {a.name: a.f for a in node.attribute}
        bounds = bounds or [attrs.get("min"), attrs.get("max")]
        if len(bounds) == 2 and bounds[0] == 0.0 and bounds[1] is not None and bounds[1] > 0:
            continue
        out.append(Finding(WARNING, "clip", f"Clip {node.name or node.output[0]} with bounds {bounds} is not a "
                           "ReLU6-style clip", "use ReLU6 (Clip 0..6) or ReLU"))
    return out


def check_ort_session(bundle: Bundle, model: Any, target: Target) -> list[Finding]:
    import onnxruntime as ort

    try:
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types
        return [Finding(ERROR, "ort-load", f"ONNX Runtime cannot load the model: {exc}",
                        "re-export with a supported opset and standard ops")]
    return [Finding(INFO, "ort-load", ORT_NEEDS_NOTHING)]


_MODEL_CHECKS: dict[str, tuple[Callable[[Bundle, Any, Target], list[Finding]], ...]] = {
    "hailo": (check_shapes, check_opset, check_hailo_ops),
    "onnxruntime": (check_shapes, check_opset, check_ort_session),
}


def _check_calibration(bundle: Bundle, target: Target) -> list[Finding]:
    from edgenas.compile.calibration import load_calibration
    from edgenas.compile.errors import CalibrationError

    needed = "compile hef" if target.kind == "hailo" else "compile quantize"
    if calibration_path(bundle) is None:
        level = ERROR if target.kind == "hailo" else WARNING
        return [Finding(level, "calibration-missing", f"no calibration sample in the bundle (`edgenas {needed}` "
                        "needs one)", "re-export with `edgenas search export`, which adds calibration.npy")]
    try:
        n = load_calibration(bundle).shape[0]
    except CalibrationError as exc:
        return [Finding(ERROR, "calibration-invalid", str(exc), "re-export the bundle")]
    if n < RECOMMENDED_IMAGES:
        level = WARNING if target.kind == "hailo" else INFO
        return [Finding(level, "calibration-size", f"the calibration sample has {n} images; the Hailo Model Zoo "
                        f"recommends at least {RECOMMENDED_IMAGES} in-domain images",
                        "export more training images into the calibration sample (too few costs accuracy)")]
    return [Finding(INFO, "calibration-size", f"{n} calibration images")]
