"""The backend interface: a loaded model that takes one prepared frame and returns the outputs.

``prepare`` turns a camera frame (HxWx3 uint8, BGR as OpenCV gives it) into exactly the input
tensor this backend wants, following the bundle's preprocessing; ``infer`` runs batch 1.
"""

from __future__ import annotations

import abc
from typing import Any

import numpy as np

from edgenas.runtime.bundle import Bundle
from edgenas.runtime.errors import BackendError


class Backend(abc.ABC):
    name: str = "?"

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle

    @abc.abstractmethod
    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        """A camera frame (H, W, 3) uint8 BGR -> this backend's input tensor (batch 1)."""

    @abc.abstractmethod
    def infer(self, x: np.ndarray) -> list[np.ndarray]:
        """Run the model once on a prepared input; returns the outputs as float32 arrays."""

    @abc.abstractmethod
    def info(self) -> dict[str, Any]:
        """What measures: {'backend', 'device', 'versions': {...}, settings...}."""

    def example_input(self, seed: int = 0) -> np.ndarray:
        """A prepared input made from a random frame (for benchmarks)."""
        h, w = self.bundle.manifest.preprocessing.size_hw
        frame = np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)
        return self.prepare(frame)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the device or session."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


BACKENDS = {
    "onnxruntime": "edgenas.runtime.backends.onnxruntime:OrtBackend",
    "hailort": "edgenas.runtime.backends.hailort:HailoBackend",
}


def open_backend(bundle: Bundle, name: str = "auto", **options: Any) -> Backend:
    """Open ``bundle`` on backend ``name``; ``auto`` picks by the bundle's model format (hef -> hailort)."""
    import importlib

    if name == "auto":
        name = "hailort" if bundle.manifest.model_format == "hef" else "onnxruntime"
    if name not in BACKENDS:
        raise BackendError(f"unknown backend {name!r}; choose one of {sorted(BACKENDS)}")
    module_name, cls_name = BACKENDS[name].split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    backend: Backend = cls(bundle, **options)
    return backend
