"""Live-run measurements in bounded memory, and an optional Prometheus ``/metrics`` endpoint.

``LatencyStats`` keeps exact count/sum/min/max, a fixed-size reservoir sample of the whole run
(Vitter's algorithm R, seeded) for run-wide percentiles, and the samples of the current report
interval (bounded too). Memory does not grow with run length.

``MetricsServer`` serves the Prometheus text format (version 0.0.4) from a stdlib
``ThreadingHTTPServer`` in a daemon thread, bound to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import collections
import logging
import random
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from edgenas.runtime.errors import ConfigError

log = logging.getLogger(__name__)

QUANTILES = (50, 90, 99)
RESERVOIR_SIZE = 8192
INTERVAL_CAP = 8192


def percentiles(values: Iterable[float], prefix: str = "") -> dict[str, float | None]:
    """{prefix}p50_ms, p90_ms, p99_ms of ``values`` (None when there are none)."""
    arr = np.fromiter(values, dtype=np.float64)
    if arr.size == 0:
        return {f"{prefix}p{q}_ms": None for q in QUANTILES}
    qs = np.percentile(arr, QUANTILES)
    return {f"{prefix}p{q}_ms": round(float(v), 4) for q, v in zip(QUANTILES, qs, strict=True)}


class LatencyStats:
    """Latencies in ms: exact count/sum/min/max, a run-wide reservoir, and the current interval."""

    def __init__(self, reservoir_size: int = RESERVOIR_SIZE, seed: int = 0) -> None:
        self.count = 0
        self.total = 0.0
        self.total_sq = 0.0
        self.min = float("inf")
        self.max = 0.0
        self._reservoir = np.empty(reservoir_size, dtype=np.float64)  # allocated once: memory stays flat
        self._rng = random.Random(seed)
        self.interval: collections.deque[float] = collections.deque(maxlen=INTERVAL_CAP)

    def add(self, ms: float) -> None:
        self.count += 1
        self.total += ms
        self.total_sq += ms * ms
        self.min = min(self.min, ms)
        self.max = max(self.max, ms)
        self.interval.append(ms)
        size = self._reservoir.size
        if self.count <= size:
            self._reservoir[self.count - 1] = ms
        else:
            j = self._rng.randrange(self.count)
            if j < size:
                self._reservoir[j] = ms

    def take_interval(self, prefix: str = "") -> dict[str, float | None]:
        """Percentiles of the samples since the last call, then start a new interval."""
        out = percentiles(self.interval, prefix)
        self.interval.clear()
        return out

    def summary(self, prefix: str = "") -> dict[str, float | None]:
        kept = self._reservoir[: min(self.count, self._reservoir.size)]
        out: dict[str, float | None] = dict(percentiles(kept, prefix))
        if self.count:
            mean = self.total / self.count
            var = max(self.total_sq / self.count - mean * mean, 0.0)
            out.update({f"{prefix}mean_ms": round(mean, 4), f"{prefix}std_ms": round(var**0.5, 4),
                        f"{prefix}min_ms": round(self.min, 4), f"{prefix}max_ms": round(self.max, 4)})
        else:
            out.update({f"{prefix}{k}_ms": None for k in ("mean", "std", "min", "max")})
        return out


# name, type, help, snapshot key
_COUNTERS = (
    ("edgenas_frames_total", "counter", "Frames inferred.", "frames"),
    ("edgenas_captured_frames_total", "counter", "Frames delivered by the source.", "captured"),
    ("edgenas_dropped_frames_total", "counter", "Frames overwritten before inference took them.", "dropped"),
    ("edgenas_fps", "gauge", "Inferred frames per second over the last report interval.", "fps"),
    ("edgenas_up_seconds", "gauge", "Seconds since the live run started.", "elapsed_s"),
)
_SUMMARIES = (
    ("edgenas_inference_latency_seconds", "Model-only inference time (quantiles: last report interval).", ""),
    ("edgenas_frame_age_seconds", "Capture-to-result time of inferred frames (quantiles: last interval).", "e2e_"),
)


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_prometheus(snap: dict[str, Any]) -> str:
    """The Prometheus text exposition of a ``snapshot`` dict (see live.LiveRun.snapshot)."""
    lines: list[str] = []
    for name, kind, doc, key in _COUNTERS:
        lines += [f"# HELP {name} {doc}", f"# TYPE {name} {kind}", f"{name} {float(snap.get(key) or 0.0):g}"]
    for name, doc, prefix in _SUMMARIES:
        lines += [f"# HELP {name} {doc}", f"# TYPE {name} summary"]
        for q in QUANTILES:
            value = snap.get(f"{prefix}p{q}_ms")
            shown = "NaN" if value is None else f"{value / 1000.0:.9g}"
            lines.append(f'{name}{{quantile="{q / 100:g}"}} {shown}')
        lines.append(f"{name}_sum {float(snap.get(f'{prefix}sum_ms') or 0.0) / 1000.0:.9g}")
        lines.append(f"{name}_count {int(snap.get(f'{prefix}count') or 0)}")
    labels = ",".join(f'{k}="{_label(snap.get(k, ""))}"' for k in ("backend", "model", "source"))
    lines += ["# HELP edgenas_info What is running.", "# TYPE edgenas_info gauge", f"edgenas_info{{{labels}}} 1"]
    return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    snapshot: Callable[[], dict[str, Any]]

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.split("?", 1)[0] != "/metrics":
            self.send_error(404, "only /metrics is served here")
            return
        body = render_prometheus(type(self).snapshot()).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        log.debug("metrics: " + format, *args)


class MetricsServer:
    """Serves ``GET /metrics`` from ``snapshot()`` in a daemon thread; ``port=0`` picks a free port."""

    def __init__(self, snapshot: Callable[[], dict[str, Any]], port: int, host: str = "127.0.0.1") -> None:
        handler = type("MetricsHandler", (_Handler,), {"snapshot": staticmethod(snapshot)})
        try:
            self._server = ThreadingHTTPServer((host, port), handler)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}); choose a free --metrics-port "
                "(or 0 for any) and a --metrics-host this machine has"
            ) from exc
        self._server.daemon_threads = True
        self.host, self.port = host, int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="edgenas-metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("metrics at http://%s:%d/metrics", self.host, self.port)
        return self

    def close(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> MetricsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
