"""Helpers for the sources / live / run tests (no tests here): videos, an MJPEG camera on loopback, fakes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edgenas.runtime.backends.base import Backend
from edgenas.runtime.bundle import Bundle


def write_video(path: Path, frames: int = 12, size_wh: tuple[int, int] = (64, 48), fps: float = 25.0) -> Path:
    """A short MJPG .avi whose frame i is filled with grey level 10*i."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size_wh)
    assert writer.isOpened(), "OpenCV cannot write MJPG .avi here"
    for i in range(frames):
        writer.write(np.full((size_wh[1], size_wh[0], 3), (10 * i) % 256, np.uint8))
    writer.release()
    return path


class _MjpegHandler(BaseHTTPRequestHandler):
    server: MjpegServer

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        i = 0
        try:
            while not self.server.stopping.is_set() and i < self.server.frames_per_connection:
                ok, jpg = cv2.imencode(".jpg", np.full((48, 64, 3), (7 * i) % 256, np.uint8))
                head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpg)
                self.wfile.write(head + jpg.tobytes() + b"\r\n")
                i += 1
                self.server.sent += 1
                if self.server.sent == self.server.stop_after_frames:  # the camera goes away mid-run
                    threading.Thread(target=self.server.stop, daemon=True).start()
                time.sleep(self.server.period_s)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class MjpegServer(ThreadingHTTPServer):
    """An HTTP MJPEG camera (multipart/x-mixed-replace), as many IP cameras serve.

    ``stop()`` kills it; ``stop_after_frames`` makes it stop by itself once it has sent that many frames.
    """

    daemon_threads = True

    def __init__(self, frames_per_connection: int = 10**9, period_s: float = 0.02,
                 stop_after_frames: int | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _MjpegHandler)
        self.frames_per_connection, self.period_s = frames_per_connection, period_s
        self.stop_after_frames, self.sent = stop_after_frames, 0
        self.stopping = threading.Event()
        self._stop_lock = threading.Lock()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/stream.mjpg"
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._stop_lock:
            if self.stopping.is_set():
                return
            self.stopping.set()
        self.shutdown()
        self.server_close()


@contextmanager
def mjpeg_server(**kwargs: Any) -> Iterator[MjpegServer]:
    server = MjpegServer(**kwargs)
    try:
        yield server
    finally:
        server.stop()


class FakeBackend(Backend):
    """A backend that sleeps ``delay_s`` per inference and answers class ``top`` (or raises ``fail``)."""

    name = "fake"

    def __init__(self, bundle: Bundle, delay_s: float = 0.0, top: int = 2, fail: Exception | None = None) -> None:
        super().__init__(bundle)
        self.delay_s, self.top, self.fail = delay_s, top, fail
        self.calls = 0
        self.closed = False

    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        return frame_bgr[None]

    def infer(self, x: np.ndarray) -> list[np.ndarray]:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        if self.delay_s:
            time.sleep(self.delay_s)
        out = np.zeros((1, len(self.bundle.manifest.classes) or 5), np.float32)
        out[0, self.top] = 1.0
        return [out]

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "delay_s": self.delay_s}

    def close(self) -> None:
        self.closed = True
