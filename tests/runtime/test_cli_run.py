"""``edgenas run`` through the CLI root: reports, exit codes, faults, signals, metrics."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_live_support import mjpeg_server, write_video

from edgenas.runtime.cli import cli

REQUIRED = ("frames", "dropped", "fps", "p50_ms", "p90_ms", "p99_ms", "mean_ms", "duration_s", "backend",
            "source", "stop_reason")


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)


def _consistent(s: dict[str, Any]) -> bool:
    return bool(s["frames"] + s["dropped"] == s["captured"])


def test_synthetic_run_writes_a_report(tiny_bundle: Any, tmp_path: Path) -> None:
    report = tmp_path / "out" / "report.json"
    res = _run("--bundle", str(tiny_bundle.root), "--source", "synthetic:fps=200", "--duration", "0.6",
               "--report", str(report), "--threads", "1")
    assert res.exit_code == 0, res.output
    s = json.loads(report.read_text())
    assert all(k in s for k in REQUIRED)
    assert s["frames"] > 0 and _consistent(s) and s["stop_reason"] == "duration"
    assert s["backend"]["backend"] == "onnxruntime" and s["backend"]["threads"] == 1
    assert s["source"]["kind"] == "synthetic" and s["top_class"] in [f"c{i}" for i in range(5)]
    assert [p.name for p in report.parent.iterdir()] == ["report.json"]  # no temp files left


def test_json_lines_on_stdout(tiny_bundle: Any) -> None:
    res = _run("--bundle", str(tiny_bundle.root), "--source", "synthetic:fps=100", "--duration", "0.7",
               "--report-interval", "0.1", "--json", "--prepare-in-capture")
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(lines) >= 3
    assert all(r["type"] == "report" and "fps" in r and "p99_ms" in r for r in lines[:-1])
    assert lines[-1]["type"] == "summary" and lines[-1]["frames"] >= lines[-2]["frames"]


def test_video_that_ends_stops_cleanly_with_summary(tiny_bundle: Any, tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi", frames=15)
    report = tmp_path / "report.json"
    res = _run("--bundle", str(tiny_bundle.root), "--source", str(video), "--report", str(report), "--no-pace")
    assert res.exit_code == 0, res.output
    s = json.loads(report.read_text())
    assert s["stop_reason"] == "source ended" and s["captured"] == 15 and _consistent(s)


def test_video_loop_rewinds_until_the_duration(tiny_bundle: Any, tmp_path: Path) -> None:
    video = write_video(tmp_path / "clip.avi", frames=4, fps=100)
    report = tmp_path / "report.json"
    res = _run("--bundle", str(tiny_bundle.root), "--source", str(video), "--report", str(report), "--loop",
               "--duration", "0.5")
    assert res.exit_code == 0, res.output
    s = json.loads(report.read_text())
    assert s["stop_reason"] == "duration" and s["captured"] > 4 and s["source"]["rewinds"] >= 1


@pytest.mark.parametrize(("source", "needle"), [("99", "v4l2-ctl"), ("missing.mp4", "does not exist")])
def test_unopenable_sources_exit_1_without_report(tiny_bundle: Any, tmp_path: Path, source: str,
                                                  needle: str) -> None:
    report = tmp_path / "report.json"
    spec = str(tmp_path / source) if source.endswith(".mp4") else source
    res = _run("--bundle", str(tiny_bundle.root), "--source", spec, "--report", str(report))
    assert res.exit_code == 1
    assert "error:" in res.stderr and needle in res.stderr
    assert not report.exists()


def test_stream_dropping_mid_run_exits_1_after_reconnects(tiny_bundle: Any, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    with mjpeg_server(period_s=0.01, stop_after_frames=30) as server:  # the camera dies after 30 frames
        res = _run("--bundle", str(tiny_bundle.root), "--source", server.url, "--report", str(report),
                   "--duration", "60", "--reconnect-tries", "2", "--reconnect-backoff", "0.05",
                   "--reconnect-max-backoff", "0.1")
    assert res.exit_code == 1
    assert "dropped after" in res.stderr and "2 reconnect attempts" in res.stderr and "--reconnect-tries" in res.stderr
    assert not report.exists()


@pytest.mark.parametrize("args", [
    ["--duration", "-1"], ["--duration", "0"], ["--threads", "0"], ["--report-interval", "0"],
    ["--backend", "tensorrt"], ["--metrics-port", "70000"], ["--reconnect-tries", "-1"],
    ["--reconnect-backoff", "2", "--reconnect-max-backoff", "1"], ["--backend", "hailort", "--threads", "2"],
])
def test_bad_usage_exits_2(tiny_bundle: Any, tmp_path: Path, args: list[str]) -> None:
    res = _run("--bundle", str(tiny_bundle.root), "--source", "synthetic", "--report", str(tmp_path / "r.json"),
               *args)
    assert res.exit_code == 2, res.output
    assert not (tmp_path / "r.json").exists()


def test_missing_bundle_exits_1(tmp_path: Path) -> None:
    res = _run("--bundle", str(tmp_path / "nope"), "--source", "synthetic", "--duration", "1")
    assert res.exit_code == 1 and "manifest.json" in res.stderr


def test_metrics_port_in_use_exits_1(tiny_bundle: Any, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        res = _run("--bundle", str(tiny_bundle.root), "--source", "synthetic", "--duration", "5",
                   "--metrics-port", str(busy.getsockname()[1]), "--report", str(tmp_path / "r.json"))
    assert res.exit_code == 1 and "--metrics-port" in res.stderr
    assert not (tmp_path / "r.json").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_cleanly_with_summary_and_metrics(tiny_bundle: Any, tmp_path: Path, sig: signal.Signals) -> None:
    report, port = tmp_path / "report.json", _free_port()
    edgenas = Path(sys.executable).with_name("edgenas")
    proc = subprocess.Popen(
        [str(edgenas), "run", "--bundle", str(tiny_bundle.root), "--source", "synthetic:fps=100", "--json",
         "--report", str(report), "--report-interval", "0.2", "--metrics-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        first = json.loads(proc.stdout.readline())  # type: ignore[union-attr]  # blocks until the first report
        assert first["type"] == "report"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
        assert "edgenas_frames_total" in metrics
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    s = json.loads(report.read_text())
    assert s["stop_reason"] == sig.name and s["frames"] > 0 and _consistent(s)
    assert json.loads(out.splitlines()[-1])["type"] == "summary"


def test_hef_bundle_runs_on_the_hailort_backend(tiny_hef_bundle: Any, tmp_path: Path) -> None:
    # The fake hailo_platform (tests/fakes) models HailoRT's InferModel API; auto picks hailort for a HEF.
    report = tmp_path / "report.json"
    res = _run("--bundle", str(tiny_hef_bundle.root), "--source", "synthetic:frames=20", "--report", str(report))
    assert res.exit_code == 0, res.output
    s = json.loads(report.read_text())
    assert s["backend"]["backend"] == "hailort" and s["captured"] == 20 and _consistent(s) and s["frames"] > 0


def test_hef_bundle_without_hailort_exits_1(tiny_hef_bundle: Any, no_hailo_sdk: None, tmp_path: Path) -> None:
    res = _run("--bundle", str(tiny_hef_bundle.root), "--source", "synthetic", "--duration", "1",
               "--report", str(tmp_path / "r.json"))
    assert res.exit_code == 1 and "error:" in res.stderr
    assert not (tmp_path / "r.json").exists()


def test_report_path_that_is_a_directory_is_bad_usage(tiny_bundle: Any, tmp_path: Path) -> None:
    res = _run("--bundle", str(tiny_bundle.root), "--source", "synthetic", "--duration", "1", "--report",
               str(tmp_path))
    assert res.exit_code == 2 and "directory" in res.output
