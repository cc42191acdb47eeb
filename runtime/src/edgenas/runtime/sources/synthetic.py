"""Generated moving frames for benchmarks and tests: deterministic for a seed, cheap to make.

Each frame is a window sliding over a seeded random "tape", with a moving red square, so
consecutive frames differ and the same seed gives the same sequence. ``fps`` limits the rate
(None: as fast as they can be made); ``frames`` makes the source finite.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edgenas.runtime.errors import SourceError
from edgenas.runtime.sources.base import Pacer, Source

DEFAULT_SIZE_HW = (480, 640)
SQUARE_COLOR_BGR = (0, 0, 255)


class SyntheticSource(Source):
    kind = "synthetic"

    def __init__(self, size_hw: tuple[int, int] = DEFAULT_SIZE_HW, fps: float | None = None, seed: int = 0,
                 frames: int | None = None) -> None:
        h, w = size_hw
        if h < 8 or w < 8:
            raise SourceError(f"synthetic frame size {w}x{h} is too small; use at least 8x8")
        if fps is not None and fps <= 0:
            raise SourceError(f"synthetic fps must be positive, got {fps}")
        if frames is not None and frames < 0:
            raise SourceError(f"synthetic frames must be >= 0, got {frames}")
        self.size_hw = (h, w)
        self.fps, self.seed, self.max_frames = fps, seed, frames
        rng = np.random.default_rng(seed)
        # Smooth-ish texture: coarse noise upsampled by repetition, so the frames compress like images.
        coarse = rng.integers(0, 256, size=(h // 4 + 1, (2 * w) // 4 + 1, 3), dtype=np.uint8)
        self._tape = np.ascontiguousarray(coarse.repeat(4, axis=0).repeat(4, axis=1)[:h, : 2 * w])
        self._side = max(4, min(h, w) // 6)
        self._pacer = Pacer(fps)
        self.frames = 0

    def read(self) -> np.ndarray | None:
        if self.max_frames is not None and self.frames >= self.max_frames:
            return None
        self._pacer.wait()
        h, w = self.size_hw
        i = self.frames
        off = (4 * i) % w
        frame = self._tape[:, off : off + w].copy()
        s = self._side
        y = (3 * i) % (h - s)
        x = (5 * i) % (w - s)
        frame[y : y + s, x : x + s] = SQUARE_COLOR_BGR
        self.frames += 1
        return frame

    def info(self) -> dict[str, Any]:
        h, w = self.size_hw
        return {"kind": self.kind, "spec": "synthetic", "width": w, "height": h, "fps_limit": self.fps,
                "seed": self.seed, "max_frames": self.max_frames, "frames_read": self.frames}
