"""The fake ``ClientRunner``: parse -> model script -> optimize -> compile, with a HAR file in between."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from hailo_sdk_client import _resources, _script
from hailo_sdk_client._translate import translate
from hailo_sdk_client.exposed_definitions import STATE_ORDER, InferenceContext, States

log = logging.getLogger("hailo_sdk_client")
HW_ARCHS = ("hailo8", "hailo8l", "hailo8r", "hailo15h", "hailo15m", "hailo10h")
DFC_VERSION = "3.31.0-fake"


class ClientRunner:
    def __init__(self, hw_arch: str | None = None, har: str | Path | None = None) -> None:
        self._hn: dict[str, Any] | None = None
        self._params: dict[str, np.ndarray] = {}
        self._onnx: bytes | None = None
        self._script = _script.Script()
        self._meta: dict[str, Any] = {"state": States.UNINITIALIZED.value}
        self._hef: bytes | None = None
        if har is not None:
            self.load_har(har)
        if hw_arch is not None:
            if hw_arch not in HW_ARCHS:
                raise ValueError(f"Unsupported hw_arch {hw_arch!r}; supported: {HW_ARCHS}")
            if har is not None and self._meta.get("hw_arch") not in (None, hw_arch):
                log.warning("changing hw_arch of a loaded HAR is not recommended after optimization")
            self._meta["hw_arch"] = hw_arch
        self._meta.setdefault("hw_arch", "hailo8")  # the documented default

    # --- state -------------------------------------------------------------------------------------
    @property
    def state(self) -> States:
        return States(self._meta["state"])

    @property
    def hw_arch(self) -> str:
        return str(self._meta["hw_arch"])

    def _require(self, at_least: States, what: str) -> None:
        if STATE_ORDER.index(self.state) < STATE_ORDER.index(at_least):
            raise RuntimeError(f"{what} requires a model in state {at_least.value} or later; "
                               f"the runner is in state {self.state.value}")

    def get_hn_dict(self) -> dict[str, Any]:
        self._require(States.HAILO_MODEL, "get_hn_dict")
        return json.loads(json.dumps(self._hn))

    def get_params(self) -> dict[str, np.ndarray]:
        return dict(self._params)

    # --- parse -------------------------------------------------------------------------------------
    def translate_onnx_model(self, model: str | Path, net_name: str, start_node_names: list[str] | None = None,
                             end_node_names: list[str] | None = None,
                             net_input_shapes: dict[str, list[int]] | None = None,
                             **kwargs: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        hn, params, sub = translate(model, net_name, start_node_names, end_node_names, net_input_shapes)
        self._hn, self._params, self._onnx = hn, params, sub
        self._meta.update(state=States.HAILO_MODEL.value, net_name=net_name)
        return self.get_hn_dict(), dict(params)

    # --- model script ------------------------------------------------------------------------------
    def load_model_script(self, model_script: str | Path, append: bool = False) -> None:
        self._require(States.HAILO_MODEL, "load_model_script")
        if STATE_ORDER.index(self.state) >= STATE_ORDER.index(States.COMPILED_MODEL):
            raise RuntimeError("cannot load a model script into a compiled model")
        text = str(model_script)
        if isinstance(model_script, Path) or (text.endswith(".alls") and "\n" not in text):
            text = Path(model_script).read_text()
        parsed = _script.parse(text)
        if not append:
            self._script = _script.Script()
        self._script.lines += parsed.lines
        self._script.commands += parsed.commands

    def _normalization(self) -> tuple[np.ndarray, np.ndarray] | None:
        found = self._script.last("normalization")
        if found is None:
            return None
        mean, std = found[0]
        return np.asarray(mean, np.float32), np.asarray(std, np.float32)

    def _flavor(self, key: str, default: Any) -> Any:
        found = self._script.last("model_optimization_flavor")
        return found[1].get(key, default) if found else default

    # --- optimize ----------------------------------------------------------------------------------
    def _input_hw(self) -> tuple[int, int, int]:
        layer = next(v for v in (self._hn or {})["layers"].values() if v["type"] == "input_layer")
        _, h, w, c = layer["input_shapes"][0]
        return h, w, c

    def _calib_array(self, calib_data: Any) -> np.ndarray:
        if callable(calib_data):
            calib_data = calib_data()
        if isinstance(calib_data, str | Path):
            calib_data = np.load(calib_data, allow_pickle=False)
        if isinstance(calib_data, dict):
            names = [k for k, v in self._hn["layers"].items() if v["type"] == "input_layer"]  # type: ignore[index]
            if set(calib_data) != set(names):
                raise ValueError(f"calibration dict keys {sorted(calib_data)} must be the input layers {names}")
            calib_data = calib_data[names[0]]
        arr = np.asarray(calib_data)
        h, w, c = self._input_hw()
        if arr.ndim != 4 or arr.shape[1:] != (h, w, c):
            raise ValueError(f"calibration data has shape {arr.shape}; expected NHWC (N, {h}, {w}, {c})")
        if arr.dtype != np.float32:
            raise ValueError(f"calibration data must be float32, got {arr.dtype}")
        return arr

    def optimize_full_precision(self, calib_data: Any = None) -> None:
        self._require(States.HAILO_MODEL, "optimize_full_precision")
        self._meta["state"] = States.FP_OPTIMIZED_MODEL.value

    def optimize(self, calib_data: Any, data_type: Any = None, work_dir: Any = None) -> None:
        self._require(States.HAILO_MODEL, "optimize")
        arr = self._calib_array(calib_data)
        if self.state == States.HAILO_MODEL:
            self.optimize_full_precision()
        level = self._flavor("optimization_level", 2)
        if len(arr) < 1024:
            log.warning("Dataset size %d is smaller than the recommended 1024 images", len(arr))
        norm = self._normalization()
        if norm is not None and float(arr.max()) <= 1.0:
            log.warning("calibration data max is %.3g with a normalization layer: double normalization?",
                        float(arr.max()))
        outs = self._run(arr, InferenceContext.SDK_FP_OPTIMIZED)
        lo = min(float(o.min()) for o in outs)
        hi = max(float(o.max()) for o in outs)
        scale = max(hi - lo, 1e-6) / 255.0
        self._meta.update(state=States.QUANTIZED_MODEL.value, calib_size=int(len(arr)), optimization_level=level,
                          calib_range=[float(arr.min()), float(arr.max())], qp_scale=scale, qp_zp=-lo / scale)

    # --- emulation ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def infer_context(self, context: InferenceContext) -> Iterator[InferenceContext]:
        if context == InferenceContext.SDK_HAILO_HW:
            raise RuntimeError("No Hailo PCIe device was found (the fake DFC has no hardware)")
        if context == InferenceContext.SDK_QUANTIZED:
            self._require(States.QUANTIZED_MODEL, "SDK_QUANTIZED inference")
        yield context

    def infer(self, context: InferenceContext, dataset: Any, batch_size: int | None = None,
              **kwargs: Any) -> np.ndarray | list[np.ndarray]:
        arr = self._calib_array(dataset)
        outs = self._run(arr, InferenceContext(context))
        return outs[0] if len(outs) == 1 else outs

    def _run(self, nhwc: np.ndarray, context: InferenceContext) -> list[np.ndarray]:
        import onnxruntime as ort

        x = nhwc.astype(np.float32)
        quant = context == InferenceContext.SDK_QUANTIZED
        if quant:
            x = np.clip(np.round(x), 0, 255)
        norm = self._normalization()
        if norm is not None and context != InferenceContext.SDK_NATIVE:
            x = (x - norm[0]) / norm[1]
        sess = ort.InferenceSession(self._onnx, providers=["CPUExecutionProvider"])
        inp = sess.get_inputs()[0]
        x = x.transpose(0, 3, 1, 2) if inp.shape[1] == x.shape[3] != x.shape[1] else x
        results = [sess.run(None, {inp.name: x[i:i + 1]}) for i in range(len(x))]
        outs = [np.concatenate([r[k] for r in results]).astype(np.float32) for k in range(len(results[0]))]
        if quant:
            s, zp = self._meta["qp_scale"], self._meta["qp_zp"]
            outs = [((np.clip(np.round(o / s + zp), 0, 255) - zp) * s).astype(np.float32) for o in outs]
        return outs

    # --- compile and profile -----------------------------------------------------------------------
    def _estimate(self) -> dict[str, Any]:
        res = self._script.last("resources_param")
        util = float(res[1].get("max_memory_utilization", 1.0)) if res else 1.0
        return _resources.estimate(onnx.load_from_string(self._onnx), self.hw_arch, util)

    def compile(self) -> bytes:
        self._require(States.QUANTIZED_MODEL, "compile (the model requires quantized weights)")
        import fakehef

        est = self._estimate()
        cs = self._script.last("context_switch_param")
        if cs and cs[1].get("mode") == "disabled" and est["contexts"] > 1:
            raise RuntimeError(f"Context switch is disabled, but model could not fit in single context "
                               f"({est['contexts']} contexts needed)")
        norm = self._normalization()
        mean, std = (norm[0].tolist(), norm[1].tolist()) if norm is not None else ([], [])
        self._hef = fakehef.fake_hef_bytes(
            self._onnx, hw_arch=self.hw_arch, network_group=self._meta["net_name"], mean=mean, std=std,
            contexts=est["contexts"], bottleneck_fps=est["bottleneck_fps"], dfc_version=DFC_VERSION,
            qp_scale=float(self._meta["qp_scale"]), qp_zp=float(self._meta["qp_zp"]))
        self._meta["state"] = States.COMPILED_MODEL.value
        log.info("[info] Compiled %s for %s: %d context(s)", self._meta["net_name"], self.hw_arch, est["contexts"])
        return self._hef

    def profile(self, should_use_logical_layers: bool = True, hef_filename: str | None = None) -> dict[str, Any]:
        self._require(States.HAILO_MODEL, "profile")
        est = self._estimate()
        stats = {"hw_arch": self.hw_arch, "state": self.state.value, "fps": est["bottleneck_fps"],
                 "latency_ms": est["latency_ms"], "contexts": est["contexts"], "params_bytes": est["params_bytes"],
                 "macs": est["macs"], "note": est["model"]}
        return {"stats": stats, "latency_data": {"total_latency_ms": est["latency_ms"]}}

    # --- HAR ---------------------------------------------------------------------------------------
    def save_har(self, har_path: str | Path) -> None:
        self._require(States.HAILO_MODEL, "save_har")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("meta.json", json.dumps(self._meta))
            z.writestr("hn.json", json.dumps(self._hn))
            z.writestr("model.alls", "\n".join(self._script.lines))
            z.writestr("model.onnx", self._onnx or b"")
            if self._hef is not None:
                z.writestr("model.hef", self._hef)
        Path(har_path).write_bytes(buf.getvalue())

    def load_har(self, har: str | Path) -> None:
        with zipfile.ZipFile(har) as z:
            self._meta = json.loads(z.read("meta.json"))
            self._hn = json.loads(z.read("hn.json"))
            self._script = _script.parse(z.read("model.alls").decode())
            self._onnx = z.read("model.onnx")
            self._hef = z.read("model.hef") if "model.hef" in z.namelist() else None
        from onnx import numpy_helper

        model = onnx.load_from_string(self._onnx)
        self._params = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
