"""Model latency at batch 1: time ``Backend.infer`` alone on one prepared input.

What is timed: ``time.perf_counter_ns()`` immediately before and after each ``backend.infer(x)``
call, on the same input ``x`` prepared once before the loop (preprocessing, capture and
post-processing are not included; the live loop reports those). ``warmup`` untimed calls come
first. Percentiles use linear interpolation (numpy's default); ``std_ms`` is the sample standard
deviation; ``fps`` is ``1000 / mean_ms`` (sequential batch-1 throughput of the timed runs;
``fps_basis`` says so in every result).
"""

from __future__ import annotations

import datetime as _dt
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from edgenas.runtime.backends.base import Backend
from edgenas.runtime.errors import ConfigError

log = logging.getLogger(__name__)

TIMER = "time.perf_counter_ns around Backend.infer, one input prepared before the loop"


def _progress(total: int, desc: str) -> Any:
    """A tqdm bar on an interactive stderr, else None (tqdm is optional in the runtime)."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, leave=False, file=sys.stderr)


def time_calls(call: Callable[[np.ndarray], Any], x: np.ndarray, runs: int, warmup: int,
               desc: str = "bench", progress: bool = True) -> np.ndarray:
    """Per-run latencies in ms (float64) of ``call(x)``, after ``warmup`` untimed runs."""
    if runs < 1 or warmup < 0:
        raise ConfigError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    for _ in range(warmup):
        call(x)
    ns = np.empty(runs, dtype=np.int64)
    bar = _progress(runs, desc) if progress else None
    clock = time.perf_counter_ns
    for i in range(runs):
        t0 = clock()
        call(x)
        ns[i] = clock() - t0
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return ns / 1e6


def time_infer(backend: Backend, x: np.ndarray, runs: int, warmup: int) -> np.ndarray:
    """Per-run latencies in ms (float64) of ``backend.infer(x)``, after ``warmup`` untimed runs."""
    return time_calls(backend.infer, x, runs, warmup, f"bench {backend.name}")


def latency_stats(ms: np.ndarray) -> dict[str, Any]:
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    mean = float(ms.mean())
    return {
        "p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99), "mean_ms": mean,
        "std_ms": float(ms.std(ddof=1)) if ms.size > 1 else 0.0, "min_ms": float(ms.min()),
        "max_ms": float(ms.max()), "fps": 1000.0 / mean if mean > 0 else float("inf"), "fps_basis": "1000 / mean_ms",
    }


def measure_latency(backend: Backend, runs: int = 100, warmup: int = 10, x: np.ndarray | None = None) -> dict[str, Any]:
    """Latency figures of ``backend`` at batch 1, with what measured them (backend, device, versions)."""
    if x is None:
        x = backend.example_input()
    ms = time_infer(backend, x, runs, warmup)
    info = backend.info()
    b = backend.bundle
    result: dict[str, Any] = latency_stats(ms)
    result.update({
        "runs": runs, "warmup": warmup, "batch": 1, "input_shape": list(x.shape), "input_dtype": str(x.dtype),
        "backend": info.get("backend"), "device": info.get("device"), "versions": info.get("versions", {}),
        "backend_info": info, "timer": TIMER,
        "bundle": {"name": b.manifest.name, "path": str(b.root), "manifest_sha256": b.manifest_sha256},
        "timestamp_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    })
    log.info("%s on %s: p50 %.3f ms, p99 %.3f ms over %d runs", result["backend"], result["device"],
             result["p50_ms"], result["p99_ms"], runs)
    return result
