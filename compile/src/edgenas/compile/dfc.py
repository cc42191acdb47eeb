"""The Hailo Dataflow Compiler driver: the ONLY module of edgenas that imports ``hailo_sdk_client``.

ONNX bundle -> translate_onnx_model -> model script (normalization from the manifest) ->
optimize (raw-pixel NHWC float32 calibration) -> compile -> a new bundle holding ``model.hef``
(reference/hailo.md §1.2-§1.7).
"""

from __future__ import annotations

import importlib
import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from edgenas.compile.calibration import load_calibration
from edgenas.compile.errors import CompileError, SdkMissingError
from edgenas.compile.hef_info import hailort_available, read_hef_labels
from edgenas.compile.model_script import ScriptSettings, build_model_script, read_user_script
from edgenas.compile.targets import hailo_target
from edgenas.runtime._io import atomic_write_bytes
from edgenas.runtime.bundle import Bundle, TensorSpec, derive_bundle
from edgenas.runtime.provenance import provenance

log = logging.getLogger(__name__)

HEF_FILE, SCRIPT_FILE, REPORT_FILE = "model.hef", "model.alls", "compile_report.json"
DFC_HINT = ("install the Hailo Dataflow Compiler 3.x wheel (hailo_dataflow_compiler-3.*-py3-none-linux_x86_64.whl "
            "from the Hailo Developer Zone) into vendor/ and run this command in the compile container "
            "(docker/compile.Dockerfile); DFC 5.x does not support Hailo-8/8L")


@dataclass(frozen=True)
class HefConfig:
    target: str = "hailo8l"
    calib: int | None = None
    optimization_level: int | None = None  # None: 2 with a GPU, 0 (with a warning) without
    compression_level: int = 0
    model_script: str | None = None
    end_nodes: tuple[str, ...] = ()
    har_out: str | None = None


def import_sdk() -> ModuleType:
    try:
        return importlib.import_module("hailo_sdk_client")
    except ImportError as exc:
        raise SdkMissingError(f"the Hailo Dataflow Compiler (hailo_sdk_client) is not installed: {DFC_HINT}") from exc


def has_gpu() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        res = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return res.returncode == 0 and "GPU" in res.stdout


def _optimization_level(requested: int | None) -> int:
    gpu = has_gpu()
    if requested is None:
        if gpu:
            return 2
        log.warning("no GPU found: using optimization_level=0 (DFC default 2 needs a GPU to finish in reasonable "
                    "time); expect lower quantized accuracy. Run on a GPU machine for level 2+")
        return 0
    if requested > 0 and not gpu:
        log.warning("optimization_level=%d without a GPU can take hours (hailo.md §1.1)", requested)
    return requested


def _end_nodes(onnx_path: Path, outputs: list[str], requested: tuple[str, ...]) -> list[str] | None:
    """The ONNX node names that produce the manifest outputs (None lets the DFC take the graph outputs)."""
    if requested:
        return list(requested)
    import onnx

    producers = {o: n.name for n in onnx.load(str(onnx_path), load_external_data=False).graph.node for o in n.output}
    names = [producers.get(o, "") for o in outputs]
    return names if all(names) else None


def _translate(runner: Any, bundle: Bundle, end_nodes: list[str] | None) -> None:
    exceptions = importlib.import_module("hailo_sdk_client.model_translator.exceptions")
    m = bundle.manifest
    spec = m.inputs[0]
    try:
        runner.translate_onnx_model(str(bundle.model_path), _net_name(m.name), start_node_names=[spec.name],
                                    end_node_names=end_nodes, net_input_shapes={spec.name: list(spec.shape)})
    except exceptions.ParsingWithRecommendationException as exc:
        rec = getattr(exc, "recommended_end_node_names", None)
        hint = " ".join(f"--end-node {n}" for n in rec) if rec else "--end-node NAME"
        raise CompileError(
            f"the DFC could not parse {m.model_file}: {exc}. Cut the graph before the unsupported op with "
            f"`{hint}` (run the rest on the host), or replace the op; `edgenas compile check` lists them"
        ) from exc
    except (exceptions.UnsupportedModelError, exceptions.MisspellNodeError) as exc:
        raise CompileError(f"the DFC rejected {m.model_file}: {exc}; run `edgenas compile check` for the fix") from exc


def _net_name(name: str) -> str:
    clean = "".join(c if c.isalnum() or c == "_" else "_" for c in name)
    return clean if clean[:1].isalpha() else f"net_{clean}"


def compile_hef(bundle: Bundle, out: str | Path, config: HefConfig) -> Bundle:
    target = hailo_target(config.target)
    m = bundle.manifest
    if m.model_format != "onnx":
        raise CompileError(f"`edgenas compile hef` needs an ONNX bundle; {bundle.root} holds {m.model_format!r}")
    sdk = import_sdk()
    calib = load_calibration(bundle, config.calib)
    settings = ScriptSettings(optimization_level=_optimization_level(config.optimization_level),
                              compression_level=config.compression_level, calibset_size=len(calib),
                              user_script=read_user_script(config.model_script))
    script = build_model_script(m.preprocessing, settings)
    runner = sdk.ClientRunner(hw_arch=target.hw_arch)
    _translate(runner, bundle, _end_nodes(bundle.model_path, [o.name for o in m.outputs], config.end_nodes))
    try:
        runner.load_model_script(script)
        log.info("optimizing with %d calibration images (optimization_level=%d)", len(calib),
                 settings.optimization_level)
        runner.optimize(calib)
        hef = runner.compile()
    except Exception as exc:  # the DFC raises many unrelated types
        raise CompileError(f"the DFC failed for {target.name}: {type(exc).__name__}: {exc}") from exc
    if config.har_out:
        _save_har(runner, Path(config.har_out))
    hn = runner.get_hn_dict()
    input_layer = next(name for name, layer in hn["layers"].items() if layer["type"] == "input_layer")
    resolved = replace(config, optimization_level=settings.optimization_level)
    return _write_hef_bundle(bundle, out, hef, script, sdk, resolved, len(calib), input_layer)


def _save_har(runner: Any, path: Path) -> None:
    """Save the compiled HAR through a temporary file in the same directory, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    try:
        runner.save_har(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_hef_bundle(bundle: Bundle, out: str | Path, hef: bytes, script: str, sdk: ModuleType,
                      config: HefConfig, n_calib: int, input_layer: str) -> Bundle:
    m = bundle.manifest
    report: dict[str, Any] = {
        "stage": "compile-hef", "target": config.target, "hw_arch": hailo_target(config.target).hw_arch,
        "dfc_version": str(getattr(sdk, "__version__", "unknown")), "calibration_images": n_calib,
        "config": asdict(config), "parent_model_file": m.model_file, "hef_size_bytes": len(hef),
        "labels": None,
    }
    with tempfile.TemporaryDirectory(prefix="edgenas-hef-") as tmp:
        hef_path = atomic_write_bytes(Path(tmp) / HEF_FILE, hef)
        if hailort_available():
            report["labels"] = read_hef_labels(hef_path)
        else:
            log.warning("HailoRT is not installed here: the HEF is not labelled (multi-context, bottleneck FPS)")
        latency = {}
        if report["labels"]:
            latency = {"target": config.target, "estimate_bottleneck_fps": report["labels"]["bottleneck_fps"],
                       "estimate_latency_ms": report["labels"]["latency_ms_estimate"],
                       "multi_context": report["labels"]["multi_context"], "source": "hef bottleneck_fps"}
        import json

        return derive_bundle(
            bundle, out, drop_files=[m.model_file],
            replace_files={HEF_FILE: ("model", hef_path), SCRIPT_FILE: ("other", script.encode()),
                           REPORT_FILE: ("report", (json.dumps(report, indent=2) + "\n").encode())},
            model_file=HEF_FILE, model_format="hef", latency=latency,
            inputs=[TensorSpec(input_layer, (1, *m.preprocessing.size_hw, 3), "uint8")],
            provenance={**provenance("compile-hef", config=asdict(config)), "hw_arch": report["hw_arch"],
                        "dfc_version": report["dfc_version"]},
        )
