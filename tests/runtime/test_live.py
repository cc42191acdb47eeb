"""The live loop: newest-frame slot, counters, stop reasons, bounded statistics, /metrics."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from typing import Any

import numpy as np
import pytest
from test_live_support import FakeBackend

from edgenas.runtime.errors import BackendError, ConfigError, SourceError
from edgenas.runtime.live import FrameSlot, LiveConfig, LiveRun, format_report
from edgenas.runtime.metrics import RESERVOIR_SIZE, LatencyStats, MetricsServer, render_prometheus
from edgenas.runtime.sources.base import Source
from edgenas.runtime.sources.synthetic import SyntheticSource


def _frame(v: int = 0) -> np.ndarray:
    return np.full((4, 4, 3), v, np.uint8)


def test_slot_keeps_only_the_newest_frame_and_counts_drops() -> None:
    slot = FrameSlot()
    for v in range(3):
        slot.put(_frame(v), float(v))
    item = slot.take(timeout=0)
    assert item is not None and item[0][0, 0, 0] == 2 and item[1] == 2.0
    assert (slot.captured, slot.dropped) == (3, 2)
    assert slot.take(timeout=0) is None
    slot.put(_frame(9), 9.0)
    slot.discard()
    assert (slot.captured, slot.dropped) == (4, 3)


def test_slot_close_wakes_a_waiting_taker() -> None:
    slot = FrameSlot()
    threading.Timer(0.05, slot.close, args=("source ended",)).start()
    assert slot.take(timeout=30) is None
    assert slot.closed and slot.end_reason == "source ended"


def _counters_consistent(s: dict[str, Any]) -> bool:
    return bool(s["frames"] + s["dropped"] == s["captured"])


def test_slow_inference_drops_frames_and_counters_add_up(tiny_bundle: Any) -> None:
    # Capture unthrottled, inference 30 ms: most frames are overwritten in the slot.
    backend = FakeBackend(tiny_bundle, delay_s=0.03)
    reports: list[dict[str, Any]] = []
    live = LiveRun(backend, SyntheticSource((16, 16)), LiveConfig(duration_s=0.5, report_interval_s=0.1),
                   on_report=reports.append)
    s = live.run()
    assert s["stop_reason"] == "duration"
    assert s["frames"] > 0 and s["dropped"] > s["frames"]
    assert _counters_consistent(s)
    assert s["frames"] == backend.calls
    assert s["top_index"] == 2 and s["top_class"] == "c2"
    assert reports and all(r["type"] == "report" for r in reports)
    assert s["p50_ms"] is not None and s["e2e_p50_ms"] >= s["p50_ms"]


def test_finite_source_ends_the_run_cleanly(tiny_bundle: Any) -> None:
    live = LiveRun(FakeBackend(tiny_bundle), SyntheticSource((16, 16), frames=25), LiveConfig(report_interval_s=5))
    s = live.run()
    assert s["stop_reason"] == "source ended"
    assert s["captured"] == 25 and _counters_consistent(s)
    assert s["source"]["kind"] == "synthetic" and s["backend"]["backend"] == "fake"
    assert not live._thread.is_alive()


def test_stop_from_another_thread(tiny_bundle: Any) -> None:
    live = LiveRun(FakeBackend(tiny_bundle, delay_s=0.005), SyntheticSource((16, 16), fps=200), LiveConfig())
    threading.Timer(0.3, live.stop, args=("SIGTERM",)).start()
    s = live.run()
    assert s["stop_reason"] == "SIGTERM" and _counters_consistent(s)
    assert not live._thread.is_alive()


class _FailingSource(Source):
    kind = "failing"

    def __init__(self, good: int) -> None:
        self.good = good

    def read(self) -> np.ndarray | None:
        if self.good <= 0:
            raise SourceError("stream dropped for good")
        self.good -= 1
        return _frame()

    def info(self) -> dict[str, Any]:
        return {"kind": self.kind}


def test_source_failure_is_raised_after_cleanup(tiny_bundle: Any) -> None:
    live = LiveRun(FakeBackend(tiny_bundle), _FailingSource(good=3), LiveConfig(duration_s=30))
    with pytest.raises(SourceError, match="dropped for good"):
        live.run()
    assert not live._thread.is_alive()


def test_backend_failure_becomes_backend_error(tiny_bundle: Any) -> None:
    live = LiveRun(FakeBackend(tiny_bundle, fail=RuntimeError("device lost")), SyntheticSource((16, 16)),
                   LiveConfig(duration_s=30))
    with pytest.raises(BackendError, match="device lost"):
        live.run()
    assert not live._thread.is_alive()


def test_latency_stats_stay_bounded_and_are_right() -> None:
    stats = LatencyStats()
    for i in range(50_000):
        stats.add(float(i % 1000))
    assert stats._reservoir.size == RESERVOIR_SIZE and len(stats.interval) <= 8192
    s = stats.summary()
    assert s["mean_ms"] == pytest.approx(499.5)
    assert s["min_ms"] == 0 and s["max_ms"] == 999
    assert s["p50_ms"] == pytest.approx(500, abs=40)  # a uniform sample's median
    assert stats.take_interval()["p99_ms"] is not None and stats.take_interval()["p99_ms"] is None
    assert LatencyStats().summary()["p50_ms"] is None


def test_format_report_is_one_line() -> None:
    line = format_report({"elapsed_s": 2.0, "fps": 30.0, "p50_ms": 1.0, "p90_ms": None, "p99_ms": 3.0,
                          "frames": 60, "dropped": 1, "top_class": "cat"})
    assert "\n" not in line and "cat" in line and "1.00/-/3.00" in line


def test_prometheus_text_format() -> None:
    text = render_prometheus({"frames": 10, "dropped": 2, "captured": 12, "fps": 9.5, "p50_ms": 5.0,
                              "p90_ms": 6.0, "p99_ms": None, "sum_ms": 50.0, "count": 10,
                              "backend": "onnxruntime", "model": 'a"b', "source": "synthetic"})
    lines = text.splitlines()
    assert "edgenas_frames_total 10" in lines and "edgenas_dropped_frames_total 2" in lines
    assert "# TYPE edgenas_inference_latency_seconds summary" in lines
    assert 'edgenas_inference_latency_seconds{quantile="0.5"} 0.005' in lines
    assert 'edgenas_inference_latency_seconds{quantile="0.99"} NaN' in lines
    assert "edgenas_inference_latency_seconds_count 10" in lines
    assert 'model="a\\"b"' in text


def test_metrics_endpoint_scrape(tiny_bundle: Any) -> None:
    live = LiveRun(FakeBackend(tiny_bundle), SyntheticSource((16, 16), frames=40), LiveConfig(report_interval_s=5))
    live.run()
    with MetricsServer(live.snapshot, port=0) as server:
        assert server.host == "127.0.0.1" and server.port > 0
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(base + "/metrics", timeout=10) as resp:
            body = resp.read().decode()
            ctype = resp.headers["Content-Type"]
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "/other", timeout=10)
        assert err.value.code == 404
    assert ctype.startswith("text/plain; version=0.0.4")
    values = dict(line.rsplit(" ", 1) for line in body.splitlines() if not line.startswith("#"))
    assert float(values["edgenas_frames_total"]) + float(values["edgenas_dropped_frames_total"]) == 40
    assert float(values["edgenas_inference_latency_seconds_count"]) == float(values["edgenas_frames_total"])
    assert 'backend="fake"' in body


def test_metrics_port_in_use_is_a_config_error() -> None:
    with MetricsServer(dict, port=0) as first, pytest.raises(ConfigError, match="--metrics-port"):
        MetricsServer(dict, port=first.port)


def test_reservoir_samples_the_whole_run_not_just_the_end() -> None:
    stats = LatencyStats()
    for v in [1.0] * 20_000 + [3.0] * 20_000:
        stats.add(v)
    kept = stats._reservoir
    assert 0.4 < float((kept == 1.0).mean()) < 0.6 and set(np.unique(kept)) == {1.0, 3.0}


class _ThreadRecordingBackend(FakeBackend):
    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        self.prepare_threads = getattr(self, "prepare_threads", set()) | {threading.current_thread().name}
        if frame_bgr.shape[0] == 0:
            raise ValueError("empty frame")
        return frame_bgr[None]


@pytest.mark.parametrize(("in_capture", "thread"), [(True, "edgenas-capture"), (False, "MainThread")])
def test_prepare_runs_where_configured(tiny_bundle: Any, in_capture: bool, thread: str) -> None:
    backend = _ThreadRecordingBackend(tiny_bundle, delay_s=0.002)
    live = LiveRun(backend, SyntheticSource((16, 16), frames=60),
                   LiveConfig(report_interval_s=5, prepare_in_capture=in_capture))
    s = live.run()
    assert backend.prepare_threads == {thread}
    assert s["captured"] == 60 and _counters_consistent(s) and s["prepare_mean_ms"] is not None


class _EmptyFrames(Source):
    def read(self) -> np.ndarray | None:
        return np.zeros((0, 4, 3), np.uint8)

    def info(self) -> dict[str, Any]:
        return {"kind": "empty"}


@pytest.mark.parametrize("in_capture", [True, False])
def test_prepare_failure_is_a_backend_error(tiny_bundle: Any, in_capture: bool) -> None:
    live = LiveRun(_ThreadRecordingBackend(tiny_bundle), _EmptyFrames(),
                   LiveConfig(duration_s=30, prepare_in_capture=in_capture))
    with pytest.raises(BackendError, match="empty frame"):
        live.run()


def test_stop_during_stream_reconnect_backoff_is_clean(tiny_bundle: Any) -> None:
    from test_live_support import mjpeg_server

    from edgenas.runtime.sources.base import ReconnectPolicy
    from edgenas.runtime.sources.stream import StreamSource

    with mjpeg_server(frames_per_connection=3, period_s=0.005) as server:
        # Each connection gives 3 frames; then the server goes away and the source backs off for long.
        source = StreamSource(server.url, ReconnectPolicy(tries=5, initial_s=30.0, max_s=60.0), timeout_s=2)
        server.stop()
        live = LiveRun(FakeBackend(tiny_bundle), source, LiveConfig(duration_s=0.5, report_interval_s=5))
        s = live.run()  # neither waits through the backoff nor reports the interrupted reconnect as a fault
    assert s["stop_reason"] == "duration" and _counters_consistent(s)
    assert not live._thread.is_alive()
