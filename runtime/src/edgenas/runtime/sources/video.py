"""A video file through OpenCV (FFmpeg): played at its own frame rate like a camera, or as fast as it decodes.

At the end of the file ``read()`` returns None (the live run then stops cleanly and writes its
summary), or, with ``loop=True``, rewinds and goes on.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgenas.runtime.errors import SourceError
from edgenas.runtime.sources.base import Pacer, Source, check_frame

log = logging.getLogger(__name__)


class VideoFileSource(Source):
    kind = "video"

    def __init__(self, path: str | os.PathLike[str], loop: bool = False, pace: bool = True) -> None:
        self.path = Path(path)
        self.loop = loop
        if not self.path.is_file():
            raise SourceError(
                f"video file {self.path} does not exist; pass an existing file, a camera index (0), "
                "/dev/videoN, a URL (rtsp://, http://), `picamera2` or `synthetic`"
            )
        if not os.access(self.path, os.R_OK):
            raise SourceError(f"video file {self.path} is not readable; check its permissions")
        self._cap = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(
                f"OpenCV cannot open {self.path} as a video (not a video, or a codec its FFmpeg lacks); "
                "re-encode it, e.g. `ffmpeg -i IN -c:v mjpeg OUT.avi` or to H.264 .mp4"
            )
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 0.0
        self._pacer = Pacer(self.fps if pace and self.fps > 0 else None)
        self.frames = 0
        self.rewinds = 0

    def read(self) -> np.ndarray | None:
        self._pacer.wait()
        ok, frame = self._cap.read()
        if not ok and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self.rewinds += 1
            log.debug("video %s: rewound (loop %d)", self.path, self.rewinds)
            ok, frame = self._cap.read()
        if not ok or frame is None:
            if self.frames == 0:
                raise SourceError(f"video file {self.path} holds no frame OpenCV can decode; re-encode it")
            return None
        self.frames += 1
        return check_frame(frame, f"video {self.path}")

    def info(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "spec": str(self.path), "fps": self.fps, "loop": self.loop,
            "paced": bool(self._pacer.period),
            "width": int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            "height": int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            "frame_count": int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)),
            "frames_read": self.frames, "rewinds": self.rewinds,
        }

    def close(self) -> None:
        self._cap.release()
