"""The calibration sample a bundle carries for quantization.

Contract (what ``edgenas search export`` writes and this part reads): one artifact with role
``calibration``, a NumPy ``.npy`` file (no pickles) holding raw pixels, **not normalized**:

* shape ``(N, H, W, 3)`` (NHWC; ``(N, 3, H, W)`` is accepted too and transposed), with
  ``(H, W)`` equal to the manifest's ``preprocessing.size_hw``;
* dtype ``uint8`` (preferred) or a float type holding values in 0..255;
* channels in the manifest's ``color_order``.

These are exactly the pixels a Hailo HEF with an on-chip ``normalization`` layer receives, so the
DFC calibrates on them as they are; ONNX Runtime quantization normalizes them first.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edgenas.compile.errors import CalibrationError
from edgenas.runtime.bundle import Bundle, Preprocessing

log = logging.getLogger(__name__)

RECOMMENDED_IMAGES = 1024  # Hailo Model Zoo OPTIMIZATION.rst: "at least 1024 images"


def calibration_path(bundle: Bundle) -> Path | None:
    return bundle.artifact_path("calibration")


def _missing(bundle: Bundle) -> CalibrationError:
    return CalibrationError(
        f"bundle {bundle.root} has no calibration sample (an artifact with role 'calibration'); "
        "re-export it with `edgenas search export` (it adds calibration.npy from the training images), "
        "or add a uint8 (N, H, W, 3) .npy of in-domain images with `edgenas bundle create`"
    )


def load_calibration(bundle: Bundle, limit: int | None = None) -> np.ndarray:
    """Raw pixels as float32 NHWC ``(N, H, W, 3)``, values 0..255, first ``limit`` images."""
    path = calibration_path(bundle)
    if path is None:
        raise _missing(bundle)
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise CalibrationError(f"{path} is not a NumPy .npy array ({exc}); write it with numpy.save") from exc
    arr = _as_nhwc(arr, bundle.manifest.preprocessing, path)
    if limit is not None:
        if limit < 1:
            raise CalibrationError(f"--calib must be at least 1, got {limit}")
        if limit > arr.shape[0]:
            log.warning("asked for %d calibration images, the bundle has %d; using all of them", limit, arr.shape[0])
        arr = arr[:limit]
    return np.ascontiguousarray(arr, dtype=np.float32)


def _as_nhwc(arr: np.ndarray, pre: Preprocessing, path: Path) -> np.ndarray:
    h, w = pre.size_hw
    if arr.ndim == 4 and arr.shape[1] == 3 and arr.shape[3] != 3:
        log.info("calibration sample %s is NCHW; transposing to NHWC", path.name)
        arr = arr.transpose(0, 2, 3, 1)
    if arr.ndim != 4 or arr.shape[1:] != (h, w, 3) or arr.shape[0] == 0:
        raise CalibrationError(
            f"calibration sample {path.name} has shape {arr.shape}; expected (N, {h}, {w}, 3) raw pixels at the "
            "manifest's size_hw; re-export the bundle"
        )
    if arr.dtype == np.uint8:
        return arr
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
        raise CalibrationError(f"calibration sample {path.name} has dtype {arr.dtype}; expected uint8 pixels")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0 or hi > 255:
        raise CalibrationError(
            f"calibration sample {path.name} holds values in [{lo:.3g}, {hi:.3g}]; it must hold raw 0..255 pixels "
            "(normalization is applied by the model script / the manifest, never twice)"
        )
    if hi <= 1.0:
        log.warning("calibration sample %s looks normalized already (max %.3g); it should hold 0..255 pixels",
                    path.name, hi)
    return arr


def normalize(raw_nhwc: np.ndarray, pre: Preprocessing) -> np.ndarray:
    """Raw pixels -> the float model input of the manifest: (x - mean) / std, in its layout."""
    mean = np.asarray(pre.mean_pixel, dtype=np.float32)
    std = np.asarray(pre.std_pixel, dtype=np.float32)
    x = (raw_nhwc.astype(np.float32) - mean) / std
    if pre.layout == "NCHW":
        x = x.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(x, dtype=np.float32)
