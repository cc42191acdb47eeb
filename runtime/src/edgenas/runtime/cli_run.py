"""``edgenas run``: a bundle live on a camera, stream, video file, Picamera2 or synthetic frames.

Exit codes: 0 when the run stopped normally (``--duration`` reached, SIGINT/SIGTERM, or a video
file ended: the end is logged and the summary written); 1 on a fault (bundle, backend, source
that cannot be opened, stream that stays down after the reconnects), with no report file
written; 2 for bad usage.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from edgenas.runtime._io import atomic_write_json
from edgenas.runtime.backends.base import open_backend
from edgenas.runtime.bundle import load_bundle
from edgenas.runtime.live import LiveConfig, LiveRun, format_report
from edgenas.runtime.metrics import MetricsServer
from edgenas.runtime.sources import ReconnectPolicy, open_source

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def stop_on_signals(live: LiveRun) -> Iterator[None]:
    """SIGINT/SIGTERM ask the run to stop cleanly; a second one aborts at once (no summary)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    received: list[str] = []

    def handler(signum: int, frame: Any) -> None:
        name = signal.Signals(signum).name
        if received:
            raise KeyboardInterrupt(f"second signal ({name}) while stopping")
        received.append(name)
        log.info("%s received: stopping after the current frame", name)
        live.stop(name)

    previous = {s: signal.signal(s, handler) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _resolve_backend(name: str, model_format: str) -> str:
    if name == "auto":
        return "hailort" if model_format == "hef" else "onnxruntime"
    return name


def _check_report_path(path: Path) -> None:
    """Fail before the run, not after it, when the summary could not be written."""
    if path.is_dir():
        raise click.BadParameter(f"{path} is a directory; name a file", param_hint="--report")
    parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("."))
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise click.BadParameter(f"cannot write into {parent}; choose a writable location", param_hint="--report")


def _emit(as_json: bool) -> Any:
    def emit(report: dict[str, Any]) -> None:
        if as_json:
            click.echo(json.dumps(report))
        else:
            log.info(format_report(report))

    return emit


@click.command("run")
@click.option("--bundle", "bundle_dir", required=True, type=click.Path(path_type=Path),
              help="Bundle directory (holds manifest.json).")
@click.option("--source", "source_spec", required=True, metavar="SRC",
              help="Camera index (0) or /dev/videoN, video file, rtsp:// or http(s):// URL, picamera2[:N], "
                   "or synthetic[:size=WxH,fps=F,seed=S,frames=N].")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after S seconds (default: until the source ends or SIGINT/SIGTERM).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the final summary (JSON) here, atomically.")
@click.option("--json", "as_json", is_flag=True,
              help="Periodic reports and the final summary as JSON lines on stdout (else a log line on stderr).")
@click.option("--backend", "backend_name", type=click.Choice(["auto", "onnxruntime", "hailort"]), default="auto",
              show_default=True, help="Inference backend; auto: hailort for HEF bundles, else onnxruntime.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="ONNX Runtime intra-op threads (default: ONNX Runtime's choice).")
@click.option("--report-interval", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Seconds between periodic reports.")
@click.option("--loop", is_flag=True, help="Rewind a video file at its end instead of stopping.")
@click.option("--no-pace", is_flag=True, help="Read a video file as fast as it decodes, not at its own frame rate.")
@click.option("--prepare-in-capture", is_flag=True,
              help="Preprocess in the capture thread, overlapped with inference (for NPU backends with a free core).")
@click.option("--reconnect-tries", type=click.IntRange(min=0), default=5, show_default=True,
              help="Reconnect attempts when a network stream drops, before giving up (exit 1).")
@click.option("--reconnect-backoff", type=click.FloatRange(min=0), default=0.5, show_default=True,
              help="First wait before reconnecting, in s; doubles each attempt.")
@click.option("--reconnect-max-backoff", type=click.FloatRange(min=0), default=8.0, show_default=True,
              help="Longest wait between reconnect attempts, in s.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics at http://HOST:PORT/metrics (0: any free port).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True,
              help="Address for --metrics-port; 0.0.0.0 exposes it to the network.")
def run(bundle_dir: Path, source_spec: str, duration: float | None, report_path: Path | None, as_json: bool,
        backend_name: str, threads: int | None, report_interval: float, loop: bool, no_pace: bool,
        prepare_in_capture: bool, reconnect_tries: int, reconnect_backoff: float, reconnect_max_backoff: float,
        metrics_port: int | None, metrics_host: str) -> None:
    """Run a bundle live: capture beside inference, newest frame only, periodic reports, final summary.

    Exit codes: 0 normal stop (duration, SIGINT/SIGTERM, end of a video file), 1 fault, 2 bad usage.
    """
    if reconnect_max_backoff < reconnect_backoff:
        raise click.BadParameter("must be >= --reconnect-backoff", param_hint="--reconnect-max-backoff")
    if report_path is not None:
        _check_report_path(report_path)
    bundle = load_bundle(bundle_dir)
    resolved = _resolve_backend(backend_name, bundle.manifest.model_format)
    if threads is not None and resolved != "onnxruntime":
        raise click.UsageError(f"--threads applies to the onnxruntime backend only, not {resolved}")
    options = {"threads": threads} if threads is not None else {}
    policy = ReconnectPolicy(reconnect_tries, reconnect_backoff, reconnect_max_backoff)
    with contextlib.ExitStack() as stack:
        backend = stack.enter_context(open_backend(bundle, resolved, **options))
        source = stack.enter_context(open_source(
            source_spec, size_hw=bundle.manifest.preprocessing.size_hw, loop=loop, pace=not no_pace,
            reconnect=policy))
        config = LiveConfig(duration, report_interval, prepare_in_capture)
        live = LiveRun(backend, source, config, on_report=_emit(as_json))
        if metrics_port is not None:
            stack.enter_context(MetricsServer(live.snapshot, metrics_port, metrics_host))
        with stop_on_signals(live):
            summary = live.run()
    log.info("stopped (%s): %d frames, %d dropped, %s fps, p50 %s ms", summary["stop_reason"], summary["frames"],
             summary["dropped"], summary["fps"], summary["p50_ms"])
    if report_path is not None:
        atomic_write_json(report_path, summary)
        log.info("summary written to %s", report_path)
    if as_json:
        click.echo(json.dumps({"type": "summary", **summary}))
