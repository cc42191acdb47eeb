"""The live loop: capture beside inference, newest frame only, bounded-memory statistics.

A capture thread reads the source as fast as it delivers and puts each frame into a single
slot. A frame that is overwritten before inference took it counts as *dropped*; nothing queues.
The calling thread waits for a new frame, prepares it (``Backend.prepare``; with
``LiveConfig.prepare_in_capture`` the capture thread does that instead, overlapped with
inference), runs the model, and records the
model-only inference time (``p50_ms`` …, comparable with ``edgenas bench``) and the frame age at
the result (capture to output, ``e2e_p50_ms`` …). Counters always satisfy
``frames + dropped == captured`` at the end (a frame still in the slot at the stop is dropped).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgenas.runtime.backends.base import Backend
from edgenas.runtime.errors import BackendError, EdgeNasError
from edgenas.runtime.metrics import LatencyStats
from edgenas.runtime.sources.base import Source

log = logging.getLogger(__name__)

CAPTURE_JOIN_TIMEOUT_S = 15.0  # > the OpenCV/FFmpeg read timeouts, so a blocked read returns first
POLL_S = 0.1  # how often the loop looks at stop requests while waiting for a frame


class FrameSlot:
    """One slot holding the newest frame; ``put`` overwrites (counting a drop), ``take`` empties it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: tuple[Any, float] | None = None
        self.captured = 0
        self.dropped = 0
        self.closed = False
        self.end_reason: str | None = None
        self.error: BaseException | None = None

    def put(self, frame: Any, t_capture: float) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = (frame, t_capture)
            self.captured += 1
            self._cond.notify()

    def take(self, timeout: float) -> tuple[Any, float] | None:
        """The newest frame and its capture time, or None after ``timeout`` or once closed and empty."""
        with self._cond:
            if self._item is None and not self.closed:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            return item

    def close(self, reason: str | None = None, error: BaseException | None = None) -> None:
        with self._cond:
            if not self.closed:
                self.closed, self.end_reason, self.error = True, reason, error
            self._cond.notify_all()

    def discard(self) -> None:
        """At the stop: a frame never taken counts as dropped."""
        with self._cond:
            if self._item is not None:
                self._item = None
                self.dropped += 1


@dataclass(frozen=True)
class LiveConfig:
    duration_s: float | None = None  # None: until the source ends or a stop is requested
    report_interval_s: float = 1.0
    # Prepare (resize, normalize) in the capture thread, overlapped with inference (which releases the GIL
    # in ONNX Runtime and HailoRT). Helps when a core is free (an NPU does the inference); costs CPU when
    # frames arrive faster than the model takes them (dropped frames were prepared for nothing).
    prepare_in_capture: bool = False


class LiveRun:
    """One live run of ``backend`` on ``source``. ``run()`` returns the summary dict.

    ``on_report`` gets each periodic report dict. ``stop(reason)`` may be called from a signal
    handler or another thread. A source failure is re-raised from ``run()`` after the cleanup.
    """

    def __init__(self, backend: Backend, source: Source, config: LiveConfig | None = None,
                 on_report: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.backend, self.source = backend, source
        self.config = config or LiveConfig()
        self.on_report = on_report or (lambda r: log.info(format_report(r)))
        self.slot = FrameSlot()
        self.infer_ms = LatencyStats(seed=0)
        self.age_ms = LatencyStats(seed=1)
        classes = backend.bundle.manifest.classes
        self.classes: tuple[str, ...] = tuple(classes)
        self.frames = 0
        self.prepare_total_ms = 0.0
        self.top: tuple[int, str | None] | None = None
        self.stop_reason: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards the statistics against snapshot() from the metrics thread
        self._last: dict[str, Any] = {}
        self._t_start = self._t_first = self._t_last = 0.0
        self._thread = threading.Thread(target=self._capture, name="edgenas-capture", daemon=True)

    # ---- capture thread -------------------------------------------------------------------------------
    def _capture(self) -> None:
        try:
            while not self._stop.is_set():
                frame = self.source.read()
                if frame is None:
                    self.slot.close("source ended")
                    return
                t_capture = time.perf_counter()
                if self.config.prepare_in_capture:
                    x = self._prepare(frame)
                    self.slot.put((x, (time.perf_counter() - t_capture) * 1e3), t_capture)
                else:
                    self.slot.put((frame, None), t_capture)
        except BaseException as exc:  # handed to the inference thread, which re-raises it
            if self._stop.is_set():  # a failure while stopping (e.g. an interrupted reconnect) is no fault
                log.debug("capture ended while stopping: %s", exc)
            else:
                self.slot.close("source failed", error=exc)
        finally:
            self.slot.close("stopped")

    # ---- inference thread -----------------------------------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """Ask the run to stop (safe from a signal handler: it only sets a flag)."""
        if self.stop_reason is None:
            self.stop_reason = reason
        self._stop.set()

    def run(self) -> dict[str, Any]:
        cfg = self.config
        self._t_start = time.perf_counter()
        self._started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        deadline = self._t_start + cfg.duration_s if cfg.duration_s is not None else None
        next_report = self._t_start + cfg.report_interval_s
        self._mark = (self._t_start, 0)
        self._thread.start()
        try:
            while not self._stop.is_set():
                now = time.perf_counter()
                if deadline is not None and now >= deadline:
                    self.stop("duration")
                    break
                if now >= next_report:
                    self._report(now)
                    next_report = max(next_report + cfg.report_interval_s, now)
                wait = min(POLL_S, next_report - now, (deadline - now) if deadline is not None else POLL_S)
                item = self.slot.take(max(wait, 0.0))
                if item is not None:
                    self._process(*item)
                elif self.slot.closed:
                    self.stop(self.slot.end_reason or "source ended")
        finally:
            self._shutdown()
        if self.slot.error is not None:
            raise self.slot.error
        if self.stop_reason == "source ended":
            log.info("the source ended after %d frames; stopping", self.slot.captured)
        return self.summary()

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        try:
            return self.backend.prepare(frame)
        except EdgeNasError:
            raise
        except Exception as exc:
            raise BackendError(f"preparing a frame for {self.backend.name} failed: {type(exc).__name__}: {exc}") from exc

    def _process(self, item: tuple[np.ndarray, float | None], t_capture: float) -> None:
        t0 = time.perf_counter()
        x, prepare_ms = item
        if prepare_ms is None:
            x = self._prepare(x)
        t1 = time.perf_counter()
        try:
            outputs = self.backend.infer(x)
        except EdgeNasError:
            raise
        except Exception as exc:
            raise BackendError(f"inference failed on frame {self.frames + 1} ({self.backend.name}): "
                               f"{type(exc).__name__}: {exc}") from exc
        t2 = time.perf_counter()
        top = self._top_class(outputs)
        with self._lock:
            if not self.frames:
                self._t_first = t0
            self._t_last = t2
            self.frames += 1
            self.prepare_total_ms += (t1 - t0) * 1e3 if prepare_ms is None else prepare_ms
            self.infer_ms.add((t2 - t1) * 1e3)
            self.age_ms.add((t2 - t_capture) * 1e3)
            self.top = top

    def _top_class(self, outputs: list[np.ndarray]) -> tuple[int, str | None] | None:
        out = outputs[0] if outputs else None
        if out is None or out.size == 0 or out.ndim > 2 or (out.ndim == 2 and out.shape[0] != 1):
            return None
        idx = int(np.argmax(out))
        return idx, (self.classes[idx] if idx < len(self.classes) else None)

    def _report(self, now: float) -> None:
        with self._lock:
            t_mark, frames_mark = self._mark
            fps = (self.frames - frames_mark) / (now - t_mark) if now > t_mark else 0.0
            self._mark = (now, self.frames)
            report: dict[str, Any] = {"type": "report", "elapsed_s": round(now - self._t_start, 3),
                                      "frames": self.frames, "dropped": self.slot.dropped,
                                      "captured": self.slot.captured, "fps": round(fps, 2)}
            report.update(self.infer_ms.take_interval())
            report.update(self.age_ms.take_interval("e2e_"))
            report.update(self._top_fields())
            self._last = report
        self.on_report(report)

    def _top_fields(self) -> dict[str, Any]:
        return {"top_index": self.top[0] if self.top else None, "top_class": self.top[1] if self.top else None}

    def _shutdown(self) -> None:
        self._stop.set()
        self.source.interrupt()
        self._thread.join(timeout=CAPTURE_JOIN_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("the capture thread did not stop within %.0f s (a read is blocked); leaving it",
                        CAPTURE_JOIN_TIMEOUT_S)
        self.slot.discard()
        self._t_end = time.perf_counter()

    # ---- results --------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Counters and the last interval's figures, for the metrics endpoint (any thread)."""
        with self._lock:
            snap = dict(self._last)
            snap.update(frames=self.frames, dropped=self.slot.dropped, captured=self.slot.captured,
                        elapsed_s=time.perf_counter() - self._t_start if self._t_start else 0.0,
                        sum_ms=self.infer_ms.total, count=self.infer_ms.count,
                        e2e_sum_ms=self.age_ms.total, e2e_count=self.age_ms.count)
        snap.update(backend=self.backend.name, model=self.backend.bundle.manifest.name,
                    source=getattr(self.source, "kind", "?"))
        return snap

    def summary(self) -> dict[str, Any]:
        active = self._t_last - self._t_first if self.frames else 0.0
        out: dict[str, Any] = {
            "frames": self.frames, "dropped": self.slot.dropped, "captured": self.slot.captured,
            "fps": round(self.frames / active, 3) if active > 0 else None,
        }
        out.update(self.infer_ms.summary())
        out.update(self.age_ms.summary("e2e_"))
        out["prepare_mean_ms"] = round(self.prepare_total_ms / self.frames, 4) if self.frames else None
        out.update(self._top_fields())
        out.update({
            "duration_s": round(self._t_end - self._t_start, 3), "active_s": round(active, 3),
            "stop_reason": self.stop_reason, "started_at": self._started_at,
            "report_interval_s": self.config.report_interval_s,
            "latency_note": "p*_ms/mean_ms: model-only infer() time; e2e_*: frame capture to result; "
                            "fps: frames / time from the first frame taken to the last result",
            "backend": self.backend.info(), "source": self.source.info(),
            "model": self.backend.bundle.manifest.name,
        })
        return out


def format_report(r: dict[str, Any]) -> str:
    """A compact one-line rendering of a periodic report, for stderr."""
    def ms(key: str) -> str:
        return "-" if r.get(key) is None else f"{r[key]:.2f}"

    top = r.get("top_class") if r.get("top_class") is not None else r.get("top_index")
    return (f"{r['elapsed_s']:7.1f}s  fps {r['fps']:7.1f}  p50/p90/p99 {ms('p50_ms')}/{ms('p90_ms')}/{ms('p99_ms')} ms"
            f"  frames {r['frames']}  dropped {r['dropped']}  top {top}")
