"""A Raspberry Pi camera through Picamera2 (libcamera), as the Hailo and Raspberry Pi examples use it.

A full-size ``main`` stream plus a ``lores`` stream at the model's input size, format ``RGB888``;
frames come from ``capture_array("lores")``. Picamera2's ``RGB888`` is **BGR in memory** (it is
named after the DRM fourcc, little-endian), so the array is already what the interface promises
and is passed on without a colour conversion. Not verified on a real Pi from here: tested
against a stand-in module that models the documented calls.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

import numpy as np

from edgenas.runtime.errors import SourceError
from edgenas.runtime.sources.base import Source, check_frame

log = logging.getLogger(__name__)

INSTALL_HELP = (
    "Picamera2 is not installed: on Raspberry Pi OS run `sudo apt install python3-picamera2` and create the "
    "virtual environment with `--system-site-packages` (it is not installable from PyPI with libcamera); "
    "on other machines use a camera index, a file, a URL or `synthetic`"
)
MAIN_SIZE_WH = (1280, 960)


class PicameraSource(Source):
    kind = "picamera2"

    def __init__(self, size_hw: tuple[int, int], camera_num: int = 0, fps: float | None = 30.0) -> None:
        try:
            module = importlib.import_module("picamera2")
        except ImportError as exc:
            raise SourceError(f"{INSTALL_HELP} ({exc})") from exc
        self.size_hw = size_hw
        self.camera_num = camera_num
        try:
            self._cam = module.Picamera2(camera_num)
        except (IndexError, RuntimeError, OSError) as exc:
            raise SourceError(
                f"Picamera2 found no camera {camera_num} ({type(exc).__name__}: {exc}); check the ribbon cable, "
                "`rpicam-hello --list-cameras`, and in Docker run privileged or pass /dev/dma_heap, /dev/media* "
                "and /dev/video*"
            ) from exc
        h, w = size_hw
        controls = {"FrameRate": float(fps)} if fps else {}
        try:
            config = self._cam.create_preview_configuration(
                main={"size": MAIN_SIZE_WH, "format": "XRGB8888"},
                lores={"size": (w, h), "format": "RGB888"}, controls=controls)
            self._cam.configure(config)
            self._cam.start()
        except Exception as exc:  # libcamera raises plain RuntimeError/ValueError for bad configurations
            self._cam.close()
            raise SourceError(
                f"Picamera2 rejected a lores RGB888 stream of {w}x{h} ({type(exc).__name__}: {exc}); on a Pi 4 "
                "and older the lores stream must be YUV420, so use the camera via OpenCV or a Pi 5"
            ) from exc
        self.frames = 0

    def read(self) -> np.ndarray | None:
        try:
            frame = self._cam.capture_array("lores")
        except Exception as exc:
            raise SourceError(f"Picamera2 stopped delivering frames after {self.frames}: {exc}") from exc
        self.frames += 1
        return check_frame(np.asarray(frame), "Picamera2 lores stream")

    def info(self) -> dict[str, Any]:
        return {"kind": self.kind, "spec": f"picamera2:{self.camera_num}", "lores_hw": list(self.size_hw),
                "format": "RGB888 (BGR in memory)", "frames_read": self.frames}

    def close(self) -> None:
        try:
            self._cam.stop()
        finally:
            self._cam.close()
