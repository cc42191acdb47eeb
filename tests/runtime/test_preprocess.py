"""prepare_float / prepare_uint8_nhwc follow the manifest's preprocessing exactly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgenas.runtime.bundle import Preprocessing
from edgenas.runtime.errors import SourceError
from edgenas.runtime.preprocess import prepare_float, prepare_uint8_nhwc


def _frame(h: int = 30, w: int = 40, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _reference(frame: np.ndarray, pre: Preprocessing) -> np.ndarray:
    """The slow, obvious order: convert colour, resize, normalize, transpose."""
    img = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if pre.color_order == "RGB" else frame
    interp = {"bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST, "area": cv2.INTER_AREA,
              "bicubic": cv2.INTER_CUBIC}[pre.resize]
    img = cv2.resize(img, pre.size_hw[::-1], interpolation=interp).astype(np.float64)
    x = (img - np.array(pre.mean_pixel)) / np.array(pre.std_pixel)
    return (x.transpose(2, 0, 1) if pre.layout == "NCHW" else x)[None]


@pytest.mark.parametrize("color_order", ["RGB", "BGR"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
@pytest.mark.parametrize("resize", ["bilinear", "nearest", "area", "bicubic"])
def test_prepare_float_matches_reference(color_order: str, layout: str, resize: str) -> None:
    pre = Preprocessing(size_hw=(12, 20), mean_pixel=(123.7, 116.3, 103.5), std_pixel=(58.4, 57.1, 57.4),
                        color_order=color_order, layout=layout, resize=resize)
    frame = _frame()
    x = prepare_float(frame, pre)
    assert x.dtype == np.float32
    assert x.shape == ((1, 3, 12, 20) if layout == "NCHW" else (1, 12, 20, 3))
    np.testing.assert_allclose(x, _reference(frame, pre), rtol=1e-5, atol=1e-5)


def test_prepare_float_channel_order_is_applied() -> None:
    frame = np.zeros((4, 4, 3), np.uint8)
    frame[..., 0] = 255  # pure blue in BGR
    rgb = prepare_float(frame, Preprocessing(size_hw=(4, 4), color_order="RGB"))
    bgr = prepare_float(frame, Preprocessing(size_hw=(4, 4), color_order="BGR"))
    assert rgb[0, 2].min() == 1.0 and rgb[0, 0].max() == 0.0  # blue is the third channel in RGB
    assert bgr[0, 0].min() == 1.0 and bgr[0, 2].max() == 0.0


def test_prepare_float_into_preallocated_buffer() -> None:
    pre = Preprocessing(size_hw=(8, 8))
    out = np.empty((1, 3, 8, 8), np.float32)
    assert prepare_float(_frame(8, 8), pre, out=out) is out
    with pytest.raises(ValueError):
        prepare_float(_frame(8, 8), pre, out=np.empty((1, 8, 8, 3), np.float32))


@pytest.mark.parametrize("color_order", ["RGB", "BGR"])
def test_prepare_uint8_nhwc(color_order: str) -> None:
    pre = Preprocessing(size_hw=(12, 20), mean_pixel=(1, 2, 3), std_pixel=(4, 5, 6), color_order=color_order)
    frame = _frame()
    x = prepare_uint8_nhwc(frame, pre)
    assert x.dtype == np.uint8 and x.shape == (1, 12, 20, 3) and x.flags.c_contiguous
    ref = cv2.resize(frame, (20, 12), interpolation=cv2.INTER_LINEAR)
    if color_order == "RGB":
        ref = ref[..., ::-1]
    np.testing.assert_array_equal(x[0], ref)  # not normalized: the HEF does that on the chip


@pytest.mark.parametrize("bad", [np.zeros((8, 8), np.uint8), np.zeros((8, 8, 4), np.uint8),
                                 np.zeros((8, 8, 3), np.float32), [[0, 0, 0]]])
def test_bad_frames_are_rejected(bad: object) -> None:
    with pytest.raises(SourceError, match="uint8 BGR"):
        prepare_float(bad, Preprocessing(size_hw=(8, 8)))  # type: ignore[arg-type]
