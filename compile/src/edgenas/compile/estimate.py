"""HEF estimates without a device: bottleneck FPS and single/multi-context (target ``hailo8l-estimate``)."""

from __future__ import annotations

import json
from typing import Any

from edgenas.compile.errors import CompileError, SdkMissingError
from edgenas.compile.hef_info import HAILORT_HINT, hailort_available, read_hef_labels
from edgenas.runtime.bundle import Bundle


def _compile_report(bundle: Bundle) -> dict[str, Any]:
    path = bundle.artifact_path("report")
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CompileError(f"{path} is not valid JSON ({exc}); re-run `edgenas compile hef`") from exc
    return data if isinstance(data, dict) else {}


def estimate_hef(bundle: Bundle) -> dict[str, Any]:
    """Labels read from the HEF with HailoRT when installed, else the ones recorded at compile time."""
    m = bundle.manifest
    if m.model_format != "hef":
        raise CompileError(f"{bundle.root} holds {m.model_format!r}, not a HEF; compile it first with "
                           "`edgenas compile hef --bundle DIR --target hailo8l --out DIR`")
    report = _compile_report(bundle)
    if hailort_available():
        labels = read_hef_labels(bundle.model_path)
    elif report.get("labels"):
        labels = {**report["labels"], "source": "compile_report.json (recorded by HailoRT at compile time)"}
    else:
        raise SdkMissingError(f"cannot read {bundle.model_path}: HailoRT is not installed here and the bundle "
                              f"records no labels; {HAILORT_HINT}")
    return {"bundle": str(bundle.root), "name": m.name,
            "hw_arch": report.get("hw_arch") or m.provenance.get("hw_arch"), **labels}
