"""ONNX Runtime backend (CPU execution provider), batch 1, float32 input as the manifest describes."""

from __future__ import annotations

import functools
import logging
import platform
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnxruntime as ort

from edgenas.runtime import __version__
from edgenas.runtime.backends.base import Backend
from edgenas.runtime.bundle import Bundle, Preprocessing
from edgenas.runtime.errors import BackendError, ModelError
from edgenas.runtime.preprocess import prepare_float

log = logging.getLogger(__name__)

# /proc/cpuinfo keys that name the CPU, best first (x86: "model name"; ARM/Raspberry Pi: "Model", "Hardware").
_CPUINFO_KEYS = ("model name", "Model", "Hardware", "cpu model", "Processor")


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            fields = dict(
                (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in fh) if v.strip()
            )
    except OSError:
        fields = {}
    for key in _CPUINFO_KEYS:
        if fields.get(key):
            return fields[key]
    return platform.processor() or platform.machine() or "unknown CPU"


def expected_input_shape(pre: Preprocessing) -> tuple[int, ...]:
    h, w = pre.size_hw
    return (1, 3, h, w) if pre.layout == "NCHW" else (1, h, w, 3)


def _dims_match(model_shape: Sequence[Any], shape: Sequence[int]) -> bool:
    """A symbolic/unknown model dim (str/None) accepts any size; a batch dim must accept 1."""
    return len(model_shape) == len(shape) and all(
        not isinstance(m, int) or m < 0 or m == s for m, s in zip(model_shape, shape, strict=True)
    )


def open_session(model: str | bytes, threads: int | None = None,
                 providers: Sequence[str] | None = None) -> ort.InferenceSession:
    """An InferenceSession with sequential execution and ``threads`` intra-op threads (None: ORT default)."""
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.inter_op_num_threads = 1
    if threads is not None:
        if threads < 1:
            raise BackendError(f"threads must be >= 1, got {threads}; omit it to let ONNX Runtime choose")
        so.intra_op_num_threads = threads
    so.log_severity_level = 3
    what = model if isinstance(model, str) else "the model bytes"
    try:
        return ort.InferenceSession(model, so, providers=list(providers or ["CPUExecutionProvider"]))
    except Exception as exc:  # onnxruntime raises its own pybind classes (InvalidProtobuf, Fail, ...)
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "external data" in msg.lower():
            raise ModelError(
                f"ONNX Runtime cannot load {what}: it keeps its weights in external data files that are not beside "
                f"it ({msg[:300]}). Bundles hold single-file ONNX models: re-create the bundle with "
                "`edgenas bundle create` from the original export (with its .data file next to it)"
            ) from exc
        raise ModelError(
            f"ONNX Runtime cannot load {what}: {type(exc).__name__}: {msg[:300]}. The file is truncated, "
            "corrupt or not an ONNX model; re-export it (and re-create the bundle)"
        ) from exc


class OrtBackend(Backend):
    name = "onnxruntime"

    def __init__(self, bundle: Bundle, threads: int | None = None, providers: Sequence[str] | None = None) -> None:
        super().__init__(bundle)
        m = bundle.manifest
        if m.model_format != "onnx":
            raise BackendError(
                f"bundle {bundle.root} holds a {m.model_format} model; ONNX Runtime runs only onnx bundles "
                "(use --backend hailort, or the ONNX bundle this one was compiled from)"
            )
        self.threads = threads
        self.session = open_session(str(bundle.model_path), threads, providers)
        self.input_name = m.inputs[0].name
        self.output_names = [t.name for t in m.outputs]
        check_session_matches(self.session, bundle)
        self._pre = m.preprocessing

    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        return prepare_float(frame_bgr, self._pre)

    def infer(self, x: np.ndarray) -> list[np.ndarray]:
        outs = self.session.run(self.output_names, {self.input_name: x})
        return [np.asarray(o, dtype=np.float32) for o in outs]

    def info(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "device": cpu_model(),
            "providers": self.session.get_providers(),
            "threads": self.threads if self.threads is not None else "auto",
            "versions": {"onnxruntime": ort.__version__, "numpy": np.__version__,
                         "python": platform.python_version(), "edgenas-runtime": __version__},
        }

    def close(self) -> None:
        self.session = None  # type: ignore[assignment]


def check_session_matches(session: ort.InferenceSession, bundle: Bundle) -> None:
    """The model's input name/shape and output names agree with the manifest, or ModelError naming both."""
    m = bundle.manifest
    spec = m.inputs[0]
    want = expected_input_shape(m.preprocessing)
    if tuple(spec.shape) != want:
        raise ModelError(
            f"manifest input {spec.name!r} has shape {list(spec.shape)} but its preprocessing "
            f"({m.preprocessing.layout}, size {list(m.preprocessing.size_hw)}) makes {list(want)}; fix the manifest"
        )
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"the model has {len(inputs)} inputs {[i.name for i in inputs]}; a bundle model needs one")
    mi = inputs[0]
    if mi.name != spec.name or not _dims_match(mi.shape, spec.shape):
        raise ModelError(
            f"the model's input is {mi.name!r} {list(mi.shape)} but the manifest says {spec.name!r} "
            f"{list(spec.shape)}; the model file and manifest do not belong together: re-create the bundle"
        )
    model_outs = [o.name for o in session.get_outputs()]
    missing = [n for n in (t.name for t in m.outputs) if n not in model_outs]
    if missing:
        raise ModelError(
            f"the manifest's outputs {missing} are not outputs of the model (which has {model_outs}); "
            "re-create the bundle"
        )
