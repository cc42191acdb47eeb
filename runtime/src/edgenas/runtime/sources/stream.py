"""A network stream (RTSP, HTTP/HTTPS: what IP cameras give) through OpenCV's FFmpeg.

Opening fails at once with ``SourceError`` (a wrong URL should not wait through backoff). A
stream that drops mid-run is reopened with bounded exponential backoff (``ReconnectPolicy``);
when every attempt fails, ``read()`` raises ``SourceError`` saying so.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from edgenas.runtime.errors import SourceError
from edgenas.runtime.sources.base import ReconnectPolicy, Source, check_frame

log = logging.getLogger(__name__)

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https")


def redact(url: str) -> str:
    """The URL without a password, for logs and reports."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class StreamSource(Source):
    kind = "stream"

    def __init__(self, url: str, reconnect: ReconnectPolicy | None = None, timeout_s: float = 5.0,
                 sleep: Callable[[float], object] | None = None) -> None:
        self.url = url
        self.policy = reconnect or ReconnectPolicy()
        self.timeout_ms = int(timeout_s * 1000)
        self._interrupted = threading.Event()
        self._sleep = sleep or self._interrupted.wait
        self.frames = 0
        self.reconnects = 0
        self._cap = self._open()
        if self._cap is None:
            raise SourceError(
                f"cannot open stream {redact(url)}: check the URL, user and password, that the camera is "
                f"reachable from here (ping it; in Docker check the network), and try it with "
                f"`ffplay '{redact(url)}'`"
            )

    def _open(self) -> cv2.VideoCapture | None:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.timeout_ms]
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)
        if cap.isOpened():
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            return cap
        cap.release()
        return None

    def _grab(self) -> np.ndarray | None:
        if self._cap is None:
            return None
        ok, frame = self._cap.read()
        return frame if ok and frame is not None else None

    def read(self) -> np.ndarray | None:
        frame = self._grab()
        if frame is None:
            frame = self._reconnect()
        self.frames += 1
        return check_frame(frame, f"stream {redact(self.url)}")

    def _reconnect(self) -> np.ndarray:
        log.warning("stream %s stopped delivering frames after %d frames; reconnecting (up to %d tries)",
                    redact(self.url), self.frames, self.policy.tries)
        waited = 0.0
        for attempt, delay in enumerate(self.policy.delays(), start=1):
            self.close()
            self._sleep(delay)
            if self._interrupted.is_set():
                raise SourceError(f"stream {redact(self.url)}: reconnecting was interrupted by the stop")
            waited += delay
            self._cap = self._open()
            frame = self._grab()
            if frame is not None:
                self.reconnects += 1
                log.warning("stream %s: reconnected on attempt %d", redact(self.url), attempt)
                return frame
            log.warning("stream %s: reconnect attempt %d/%d failed", redact(self.url), attempt, self.policy.tries)
        self.close()
        raise SourceError(
            f"stream {redact(self.url)} dropped after {self.frames} frames and {self.policy.tries} reconnect "
            f"attempts over {waited:.1f} s (backoff {self.policy.initial_s:g} s to {self.policy.max_s:g} s) all "
            "failed; check the camera and the network, or allow more with --reconnect-tries"
        )

    def info(self) -> dict[str, Any]:
        info: dict[str, Any] = {"kind": self.kind, "spec": redact(self.url), "frames_read": self.frames,
                                "reconnects": self.reconnects}
        if self._cap is not None:
            info.update(width=int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                        height=int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                        fps=float(self._cap.get(cv2.CAP_PROP_FPS)))
        return info

    def interrupt(self) -> None:
        self._interrupted.set()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
