"""Camera frame -> model input, following a bundle's ``Preprocessing`` exactly.

Two entry points, one per kind of backend:

* ``prepare_float(frame_bgr, pre)`` -> float32 ``(1, 3, H, W)`` (``layout == "NCHW"``) or
  ``(1, H, W, 3)`` (``"NHWC"``): colour order, resize (OpenCV, the manifest's interpolation),
  then ``(x - mean_pixel) / std_pixel`` per channel on the 0-255 scale. For ONNX Runtime.
* ``prepare_uint8_nhwc(frame_bgr, pre)`` -> uint8 ``(1, H, W, 3)`` in the manifest's colour
  order, resized, *not* normalized: a Hailo HEF normalizes on the chip (its ``normalization``
  layer holds the same mean/std numbers).

This is the hot path of the live loop, so it is written to touch each pixel as few times as
possible: resize first (on the small image; a per-channel resize commutes with a channel
permutation, so the result is the same as converting first), then one fused
multiply-add per channel that also does the colour swap and the layout change.

Note: OpenCV's ``INTER_LINEAR`` does not antialias when shrinking, unlike PIL/torchvision
``Resize(antialias=True)``; choose ``resize: "area"`` in the manifest to get antialiased shrinking.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from edgenas.runtime.bundle import Preprocessing
from edgenas.runtime.errors import SourceError

INTERPOLATION = {
    "bilinear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST,
    "area": cv2.INTER_AREA,
    "bicubic": cv2.INTER_CUBIC,
}


@functools.lru_cache(maxsize=64)
def _constants(pre: Preprocessing) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray]:
    """Per output channel: the BGR source channel, the scale 1/std and the bias -mean/std."""
    src = (2, 1, 0) if pre.color_order == "RGB" else (0, 1, 2)
    scale = (1.0 / np.asarray(pre.std_pixel, dtype=np.float64)).astype(np.float32)
    bias = (-np.asarray(pre.mean_pixel, dtype=np.float64) / np.asarray(pre.std_pixel, dtype=np.float64))
    return src, scale, bias.astype(np.float32)


def _check_frame(frame: np.ndarray) -> None:
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        desc = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame).__name__
        raise SourceError(
            f"expected a colour frame as an (H, W, 3) uint8 BGR array, got {desc}; "
            "convert grey or BGRA frames with cv2.cvtColor before passing them in"
        )


def resize_frame(frame_bgr: np.ndarray, pre: Preprocessing) -> np.ndarray:
    """Resize to the manifest size with its interpolation; no copy when the size already matches."""
    _check_frame(frame_bgr)
    h, w = pre.size_hw
    if frame_bgr.shape[0] == h and frame_bgr.shape[1] == w:
        return frame_bgr
    return cv2.resize(frame_bgr, (w, h), interpolation=INTERPOLATION[pre.resize])


def prepare_float(frame_bgr: np.ndarray, pre: Preprocessing, out: np.ndarray | None = None) -> np.ndarray:
    """Frame (H, W, 3) uint8 BGR -> normalized float32 batch of one, in the manifest's layout.

    ``out`` may be a preallocated float32 array of the result's shape, to avoid an allocation.
    """
    img = resize_frame(frame_bgr, pre)
    h, w = pre.size_hw
    src, scale, bias = _constants(pre)
    shape = (1, 3, h, w) if pre.layout == "NCHW" else (1, h, w, 3)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    elif out.shape != shape or out.dtype != np.float32:
        raise ValueError(f"out must be float32 {shape}, got {out.dtype} {out.shape}")
    for c in range(3):
        dst = out[0, c] if pre.layout == "NCHW" else out[0, :, :, c]
        np.multiply(img[:, :, src[c]], scale[c], out=dst, dtype=np.float32)
        dst += bias[c]
    return out


def prepare_uint8_nhwc(frame_bgr: np.ndarray, pre: Preprocessing) -> np.ndarray:
    """Frame (H, W, 3) uint8 BGR -> uint8 (1, H, W, 3) in the manifest's colour order, C-contiguous.

    No normalization: on Hailo the HEF's normalization layer does it on the chip.
    """
    img = resize_frame(frame_bgr, pre)
    # ascontiguousarray does not copy when the array already is contiguous
    img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB) if pre.color_order == "RGB" else np.ascontiguousarray(img)
    return img[None]
