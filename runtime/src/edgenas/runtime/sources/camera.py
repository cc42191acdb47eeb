"""A local camera through OpenCV: an index (``0``) or a device path (``/dev/video0``); V4L2 on Linux."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import cv2
import numpy as np

from edgenas.runtime.errors import SourceError
from edgenas.runtime.sources.base import Source, check_frame

log = logging.getLogger(__name__)

CAMERA_HELP = (
    "list the cameras with `v4l2-ctl --list-devices` (package v4l-utils) and pass the right index or "
    "/dev/videoN; check that your user may read it (group `video`); in Docker pass `--device /dev/videoN`"
)
# Frames a camera may fail to deliver in a row (USB hiccups) before we call it gone.
MAX_FAILED_READS = 10


def _device_path(target: int | str) -> str | None:
    if isinstance(target, str):
        return target
    return f"/dev/video{target}" if sys.platform.startswith("linux") else None


def _preflight(target: int | str) -> None:
    """On Linux, a missing or unreadable device node says more than OpenCV's "can't open"."""
    path = _device_path(target)
    if path is None:
        return
    if not os.path.exists(path):
        raise SourceError(f"camera {target!r}: {path} does not exist (no such camera); {CAMERA_HELP}")
    if not os.access(path, os.R_OK | os.W_OK):
        raise SourceError(
            f"camera {target!r}: no permission to open {path}; add your user to the `video` group "
            f"(sudo usermod -aG video $USER, then log in again) or run with access to the device; {CAMERA_HELP}"
        )


class CameraSource(Source):
    kind = "camera"

    def __init__(self, target: int | str, size_wh: tuple[int, int] | None = None, fps: float | None = None) -> None:
        self.target = target
        _preflight(target)
        api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        self._cap = cv2.VideoCapture(target, api)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"cannot open camera {target!r} with OpenCV; {CAMERA_HELP}")
        if size_wh is not None:
            self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, size_wh[0])
            self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, size_wh[1])
        if fps is not None:
            self._cap.set(cv2.CAP_PROP_FPS, fps)
        self._cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a backlog (V4L2 honours it)
        self.frames = 0

    def read(self) -> np.ndarray | None:
        for _ in range(MAX_FAILED_READS):
            ok, frame = self._cap.read()
            if ok and frame is not None:
                self.frames += 1
                return check_frame(frame, f"camera {self.target!r}")
        raise SourceError(
            f"camera {self.target!r} stopped delivering frames ({MAX_FAILED_READS} failed reads in a row, "
            f"after {self.frames} frames): was it unplugged or taken by another program? {CAMERA_HELP}"
        )

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "spec": str(self.target),
            "width": int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "fps": float(self._cap.get(cv2.CAP_PROP_FPS)),
            "opencv_backend": self._cap.getBackendName() if self._cap.isOpened() else None,
        }

    def close(self) -> None:
        self._cap.release()
