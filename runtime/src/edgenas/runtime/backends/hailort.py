"""HailoRT backend on the InferModel API (HailoRT >= 4.18, reference/hailo.md §3.1).

The only module of edgenas that imports ``hailo_platform``. The device is opened and the model
configured once, in ``__init__`` (configuring per call costs a lot: hailo.md §5.7); ``infer`` only
sets the input buffer and runs. Input: uint8 NHWC (normalization is on the chip, in the HEF);
outputs: FLOAT32 (HailoRT dequantizes on the host).
"""

from __future__ import annotations

import logging
import platform
from types import ModuleType
from typing import Any

import numpy as np

from edgenas.runtime import __version__
from edgenas.runtime.backends.base import Backend
from edgenas.runtime.bundle import Bundle
from edgenas.runtime.errors import BackendError, ModelError
from edgenas.runtime.preprocess import prepare_uint8_nhwc

log = logging.getLogger(__name__)

MIN_VERSION = (4, 18)
INSTALL_HINT = (
    "Install HailoRT 4.18 or newer (4.x for Hailo-8/8L) with its Python binding: on Raspberry Pi OS "
    "`sudo apt install hailo-all` and a venv made with --system-site-packages; elsewhere `pip install` the "
    "hailort-4.2x.0-cp3xx-linux_<arch>.whl from the Hailo Developer Zone (for the containers, put the wheel "
    "in vendor/). The kernel driver must be the same version. Or run the bundle's ONNX parent with "
    "--backend onnxruntime."
)
# HailoRT exception class name -> what it means for the user and the fix (hailo.md §5).
ADVICE = {
    "HailoRTInvalidHEFException": "the HEF is invalid or was compiled for another chip (this device: {arch}); "
                                  "recompile the bundle for this device (hw_arch hailo8l for a Hailo-8L) and see hailort.log",
    "HailoRTHEFNotCompatibleWithDevice": "the HEF was compiled for another chip (this device: {arch}); "
                                         "recompile the bundle for this device",
    "HailoRTTimeout": "the device did not answer within {timeout_ms} ms; raise --timeout-ms, or check the device "
                      "with `hailortcli fw-control identify`",
    "HailoRTNotFoundException": "the requested Hailo device was not found; list devices with `hailortcli scan`",
    "HailoRTDriverOperationFailedException": "the Hailo driver failed; check `dmesg | grep hailo` and that the "
                                             "driver version (/sys/module/hailo_pci/version) equals HailoRT's",
}
STATUS_ADVICE = {
    "HAILO_OUT_OF_PHYSICAL_DEVICES": "no free Hailo device: none is attached (check /dev/hailo0, `hailortcli scan`) "
                                     "or another process holds it (only one process can use a device at a time)",
    "HAILO_INVALID_DRIVER_VERSION": "the Hailo kernel driver and HailoRT versions differ; install the same version "
                                    "of both (compare /sys/module/hailo_pci/version and hailo_platform.__version__)",
    "HAILO_OPEN_FILE_FAILURE": "HailoRT cannot open the HEF file; check the bundle",
}


def import_hailo_platform() -> ModuleType:
    """``hailo_platform``, or BackendError saying how to install it; refuses HailoRT < 4.18."""
    try:
        import hailo_platform
    except Exception as exc:  # ImportError, or the wheel's own MissingPyHRTLib / version-mismatch errors
        raise BackendError(f"HailoRT's Python package hailo_platform cannot be imported ({exc}). {INSTALL_HINT}") from exc
    version = str(getattr(hailo_platform, "__version__", "0"))
    parts = tuple(int(p) for p in version.split(".")[:2] if p.isdigit())
    if parts < MIN_VERSION:
        raise BackendError(f"HailoRT {version} has no InferModel API (needs >= 4.18). {INSTALL_HINT}")
    if parts[0] >= 5:
        log.warning("HailoRT %s is the Hailo-10/15 line; Hailo-8/8L need HailoRT 4.x", version)
    return hailo_platform


class HailoBackend(Backend):
    name = "hailort"

    def __init__(self, bundle: Bundle, device_id: str | None = None, timeout_ms: int = 1000) -> None:
        super().__init__(bundle)
        m = bundle.manifest
        if m.model_format != "hef":
            raise BackendError(f"bundle {bundle.root} holds a {m.model_format} model; HailoRT runs only HEF bundles "
                               "(compile it with `edgenas compile`, or use --backend onnxruntime)")
        if timeout_ms <= 0:
            raise BackendError(f"timeout_ms must be positive, got {timeout_ms}")
        self.hp = import_hailo_platform()
        self.device_id, self.timeout_ms = device_id, timeout_ms
        self.arch = "unknown"
        self._vdevice: Any = None
        self._cim: Any = None
        try:
            self._open(str(bundle.model_path))
        except BaseException as exc:
            self.close()
            if isinstance(exc, self.hp.HailoRTException):
                raise BackendError(self._explain(exc, "opening the model on the Hailo device")) from exc
            raise

    def _open(self, hef_path: str) -> None:
        hp = self.hp
        if self.device_id is not None:
            self._vdevice = hp.VDevice(device_ids=[self.device_id])
        else:
            params = hp.VDevice.create_params()
            params.scheduling_algorithm = hp.HailoSchedulingAlgorithm.ROUND_ROBIN
            self._vdevice = hp.VDevice(params)
        self.arch, self.physical_ids = self._identify()
        im = self._vdevice.create_infer_model(hef_path)
        im.set_batch_size(1)
        im.input().set_format_type(hp.FormatType.UINT8)
        for o in im.outputs:
            o.set_format_type(hp.FormatType.FLOAT32)
        self._check_model(im)
        self._hef_info = _hef_info(im.hef)
        self._cim = im.configure()
        self._buffers = {n: np.empty(s, np.float32) for n, s in self._out_shapes.items()}
        self._bindings = self._cim.create_bindings(output_buffers=self._buffers)

    def _identify(self) -> tuple[str, list[str]]:
        ids = list(self._vdevice.get_physical_devices_ids())
        try:
            arch = str(self._vdevice.get_physical_devices()[0].control.identify().device_architecture)
        except Exception as exc:  # informational only: the HEF check below does not depend on it
            log.warning("could not read the Hailo device architecture: %s", exc)
            arch = "unknown"
        return arch, ids

    def _check_model(self, im: Any) -> None:
        m = self.bundle.manifest
        if len(im.input_names) != 1:
            raise ModelError(f"the HEF has {len(im.input_names)} inputs {im.input_names}; a bundle model needs one")
        h, w = m.preprocessing.size_hw
        hef_shape = tuple(int(d) for d in im.input().shape)
        if hef_shape != (h, w, 3):
            raise ModelError(f"the HEF's input {im.input().name!r} is {list(hef_shape)} (H, W, C) but the manifest "
                             f"says {list(m.inputs[0].shape)} (preprocessing size {[h, w]}); re-create the bundle")
        hef_outs = {o.name: tuple(int(d) for d in o.shape) for o in im.outputs}
        self._out_shapes: dict[str, tuple[int, ...]] = {}
        self._manifest_shapes: list[tuple[str, tuple[int, ...]]] = []
        for spec in m.outputs:
            name = _match_output(spec.name, list(hef_outs))
            if name is None or int(np.prod(hef_outs[name])) != int(np.prod(spec.shape)):
                got = {n: list(s) for n, s in hef_outs.items()}
                raise ModelError(f"the manifest's output {spec.name!r} {list(spec.shape)} is not among the HEF's "
                                 f"outputs {got}; re-create the bundle")
            self._out_shapes[name] = hef_outs[name]
            self._manifest_shapes.append((name, tuple(spec.shape)))

    def _explain(self, exc: BaseException, doing: str) -> str:
        names = [c.__name__ for c in type(exc).__mro__]
        advice = next((ADVICE[n] for n in names if n in ADVICE), None)
        advice = advice or next((v for k, v in STATUS_ADVICE.items() if k in str(exc)), "see hailort.log")
        return f"HailoRT failed {doing} ({type(exc).__name__}: {exc}): " + advice.format(
            arch=self.arch, timeout_ms=self.timeout_ms)

    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        return prepare_uint8_nhwc(frame_bgr, self.bundle.manifest.preprocessing)

    def infer(self, x: np.ndarray) -> list[np.ndarray]:
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[0] != 1:
            raise BackendError(f"HailoBackend.infer takes a (1, H, W, 3) uint8 array from prepare(), got "
                               f"{x.dtype} {x.shape}")
        try:
            self._bindings.input().set_buffer(np.ascontiguousarray(x[0]))
            self._cim.run([self._bindings], self.timeout_ms)
        except self.hp.HailoRTException as exc:
            raise BackendError(self._explain(exc, "running inference")) from exc
        return [self._buffers[n].reshape(shape).copy() for n, shape in self._manifest_shapes]

    def info(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "device": f"{self.arch} ({', '.join(self.physical_ids)})",
            "device_arch": self.arch,
            "device_ids": self.physical_ids,
            "timeout_ms": self.timeout_ms,
            "batch_size": 1,
            "hef": self._hef_info,
            "versions": {"hailort": str(self.hp.__version__), "numpy": np.__version__,
                         "python": platform.python_version(), "edgenas-runtime": __version__},
        }

    def close(self) -> None:
        cim, self._cim = self._cim, None
        if cim is not None:
            cim.shutdown()
        vdevice, self._vdevice = self._vdevice, None
        if vdevice is not None:
            vdevice.release()


def _match_output(name: str, hef_names: list[str]) -> str | None:
    """Exact name, else the HEF output ``<network_group>/<name>`` (the DFC prefixes the group name)."""
    if name in hef_names:
        return name
    scoped = [n for n in hef_names if n.split("/", 1)[-1] == name]
    return scoped[0] if len(scoped) == 1 else None


def _hef_info(hef: Any) -> dict[str, Any]:
    ng = hef.get_network_groups_infos()[0]
    return {"network_group": ng.name, "multi_context": bool(ng.is_multi_context),
            "bottleneck_fps": float(hef.bottleneck_fps())}


def check_hef_offline(bundle: Bundle) -> str:
    """Read the HEF without a device (HailoRT's HEF class) and check it against the manifest.

    Returns what was checked. Without HailoRT installed the HEF cannot be opened: that is said
    in the returned text and logged as a warning, not hidden.
    """
    try:
        hp = import_hailo_platform()
    except BackendError as exc:
        log.warning("the HEF was not opened: %s", exc)
        return "structure and hashes only; the HEF was NOT opened: HailoRT (hailo_platform) is not installed here"
    try:
        hef = hp.HEF(str(bundle.model_path))
        infos, outs = hef.get_input_vstream_infos(), hef.get_output_vstream_infos()
    except hp.HailoRTException as exc:
        raise ModelError(f"HailoRT cannot read {bundle.model_path} ({type(exc).__name__}: {exc}); the HEF is "
                         "corrupt or from a newer compiler: re-compile the bundle") from exc
    m = bundle.manifest
    h, w = m.preprocessing.size_hw
    shapes = [tuple(int(d) for d in i.shape) for i in infos]
    if shapes != [(h, w, 3)]:
        raise ModelError(f"the HEF's inputs are {[i.name for i in infos]} {[list(s) for s in shapes]} (H, W, C) but "
                         f"the manifest says {list(m.inputs[0].shape)}; re-create the bundle")
    missing = [t.name for t in m.outputs if _match_output(t.name, [o.name for o in outs]) is None]
    if missing:
        raise ModelError(f"the manifest's outputs {missing} are not outputs of the HEF ({[o.name for o in outs]}); "
                         "re-create the bundle")
    return f"structure, hashes, HEF read offline with HailoRT {hp.__version__}: input and outputs match"
