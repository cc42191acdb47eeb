"""The frame-source interface: ``read()`` gives the next HxWx3 uint8 BGR frame, or None at the end.

Every source (camera, video file, network stream, Picamera2, synthetic) behaves the same way:

* ``read()`` blocks until the next frame and returns it as a C-contiguous ``(H, W, 3)`` uint8
  array in BGR order (what OpenCV gives). It returns ``None`` only when a *finite* source has
  ended (a video file without ``loop``); a live source that fails raises ``SourceError``.
* ``close()`` releases the device; sources are context managers.
* ``info()`` says what the source is, for reports.
"""

from __future__ import annotations

import abc
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgenas.runtime.errors import SourceError

log = logging.getLogger(__name__)


class Source(abc.ABC):
    kind: str = "?"

    @abc.abstractmethod
    def read(self) -> np.ndarray | None:
        """The next frame, (H, W, 3) uint8 BGR; None when a finite source has ended."""

    @abc.abstractmethod
    def info(self) -> dict[str, Any]:
        """{'kind': ..., 'spec': ..., and whatever else describes it (size, fps, ...)}."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the camera, file or connection."""

    def interrupt(self) -> None:  # noqa: B027 - optional hook
        """Called from another thread at a stop: cut short any wait inside ``read()`` (e.g. reconnect backoff)."""

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class ReconnectPolicy:
    """Bounded reconnect with exponential backoff: wait ``initial_s``, then double up to ``max_s``.

    ``tries`` attempts in all; after the last one fails the source raises ``SourceError``.
    """

    tries: int = 5
    initial_s: float = 0.5
    max_s: float = 8.0

    def __post_init__(self) -> None:
        if self.tries < 0 or self.initial_s < 0 or self.max_s < self.initial_s:
            raise SourceError(
                f"invalid reconnect policy {self}: tries >= 0 and 0 <= initial backoff <= max backoff are needed"
            )

    def delays(self) -> Iterator[float]:
        """The wait before each attempt: initial, 2x, 4x ... capped at max_s; ``tries`` values."""
        delay = self.initial_s
        for _ in range(self.tries):
            yield delay
            delay = min(delay * 2.0, self.max_s)


def check_frame(frame: np.ndarray, where: str) -> np.ndarray:
    """A frame as the interface promises it: (H, W, 3) uint8, C-contiguous."""
    if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        raise SourceError(
            f"{where} delivered a {frame.dtype} frame of shape {frame.shape}, not (H, W, 3) uint8 BGR; "
            "configure the source for a colour 8-bit format (e.g. MJPG/YUYV for a webcam)"
        )
    return np.ascontiguousarray(frame)


class Pacer:
    """Sleeps so that successive ``wait()`` calls are at least ``1/fps`` apart (no-op when fps is None)."""

    def __init__(self, fps: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.period = 1.0 / fps if fps else 0.0
        self._clock = clock
        self._next = clock()

    def wait(self) -> None:
        if not self.period:
            return
        now = self._clock()
        if now < self._next:
            time.sleep(self._next - now)
            self._next += self.period
        else:  # behind schedule: do not try to catch up with a burst
            self._next = now + self.period
