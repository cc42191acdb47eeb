"""Offline HEF labels through HailoRT (no device): multi-context flag and bottleneck FPS.

``HEF(path).get_network_groups_infos()[0].is_multi_context`` and ``HEF(path).bottleneck_fps()``
read the compiler's metadata from the file (reference/hailo.md §1.8). HailoRT is imported through
the runtime's Hailo backend (the one module that imports ``hailo_platform``). Its x86 wheel belongs
in the compile container for this; without it only the labels recorded at compile time exist.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import ModuleType
from typing import Any

from edgenas.compile.errors import SdkMissingError
from edgenas.runtime.errors import BackendError

log = logging.getLogger(__name__)

HAILORT_HINT = ("install the HailoRT Python wheel (hailort-4.x-cp3xx-linux_x86_64.whl from the Hailo Developer "
                "Zone) into vendor/ and rebuild the compile container (docker/compile.Dockerfile)")


def _hailo_platform() -> ModuleType:
    from edgenas.runtime.backends.hailort import import_hailo_platform

    return import_hailo_platform()


def hailort_available() -> bool:
    try:
        _hailo_platform()
    except BackendError as exc:
        log.debug("HailoRT not available: %s", exc)
        return False
    return True


def read_hef_labels(path: str | Path) -> dict[str, Any]:
    try:
        hp = _hailo_platform()
    except BackendError as exc:
        raise SdkMissingError(f"HailoRT cannot be imported, so {path} cannot be read ({exc}); {HAILORT_HINT}") from exc
    hef = hp.HEF(str(path))
    info = hef.get_network_groups_infos()[0]
    fps = float(hef.bottleneck_fps())
    return {
        "network_group": str(info.name),
        "multi_context": bool(info.is_multi_context),
        "bottleneck_fps": fps,
        "latency_ms_estimate": round(1000.0 / fps, 4) if fps > 0 else None,
        "source": "hailort",
    }
