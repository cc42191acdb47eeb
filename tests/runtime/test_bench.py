"""measure_latency / edgenas bench: what is timed, the figures' arithmetic, the command contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from edgenas.runtime.backends.base import Backend
from edgenas.runtime.backends.onnxruntime import OrtBackend
from edgenas.runtime.bench import latency_stats, measure_latency, time_infer
from edgenas.runtime.cli import cli
from edgenas.runtime.errors import ConfigError

KEYS = {"p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "min_ms", "fps", "runs", "warmup", "backend", "device",
        "versions", "timestamp_utc"}


class CountingBackend(Backend):
    name = "counting"

    def __init__(self, bundle: Any) -> None:
        super().__init__(bundle)
        self.prepared = 0
        self.seen: list[int] = []

    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        self.prepared += 1
        return frame_bgr

    def infer(self, x: np.ndarray) -> list[np.ndarray]:
        self.seen.append(id(x))
        return [x]

    def info(self) -> dict[str, Any]:
        return {"backend": self.name, "device": "none", "versions": {}}


def test_only_infer_is_timed_on_one_prepared_input(tiny_bundle: Any) -> None:
    be = CountingBackend(tiny_bundle)
    r = measure_latency(be, runs=7, warmup=3)
    assert be.prepared == 1 and len(be.seen) == 10 and len(set(be.seen)) == 1
    assert r["runs"] == 7 and r["warmup"] == 3 and r["backend"] == "counting"


def test_stats_arithmetic() -> None:
    s = latency_stats(np.array([1.0, 2.0, 3.0, 4.0]))
    assert s["p50_ms"] == 2.5 and s["mean_ms"] == 2.5 and s["min_ms"] == 1.0 and s["max_ms"] == 4.0
    assert s["p90_ms"] == pytest.approx(3.7) and s["p99_ms"] == pytest.approx(3.97)
    assert s["std_ms"] == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert s["fps"] == 400.0 and s["fps_basis"] == "1000 / mean_ms"


def test_measure_real_backend(tiny_bundle: Any) -> None:
    with OrtBackend(tiny_bundle, threads=1) as be:
        r = measure_latency(be, runs=20, warmup=2)
    assert set(r) >= KEYS
    assert 0 < r["min_ms"] <= r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"]
    assert r["fps"] == pytest.approx(1000 / r["mean_ms"])
    assert r["backend_info"]["threads"] == 1 and r["input_shape"] == [1, 3, 16, 16]


@pytest.mark.parametrize(("runs", "warmup"), [(0, 1), (-1, 0), (5, -1)])
def test_bad_counts(tiny_bundle: Any, runs: int, warmup: int) -> None:
    with pytest.raises(ConfigError):
        time_infer(CountingBackend(tiny_bundle), np.zeros(1), runs, warmup)


def bench(*args: Any) -> Any:
    return CliRunner().invoke(cli, ["bench", *[str(a) for a in args]])


def test_cli_json_is_one_object_and_out_file(tiny_bundle: Any, tmp_path: Path) -> None:
    out = tmp_path / "r" / "bench.json"
    r = CliRunner().invoke(cli, ["bench", "--bundle", str(tiny_bundle.root), "--runs", "15", "--warmup", "2",
                                 "--threads", "1", "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)  # exactly one JSON document on stdout (logs go to stderr)
    assert set(obj) >= KEYS and obj["runs"] == 15 and obj["backend_info"]["threads"] == 1
    assert json.loads(out.read_text()) == obj


def test_cli_table(tiny_bundle: Any) -> None:
    r = bench("--bundle", tiny_bundle.root, "--runs", 5)
    assert r.exit_code == 0 and "p50" in r.stdout and "onnxruntime" in r.stdout


@pytest.mark.parametrize("args", [["--runs", 0], ["--runs", -3], ["--warmup", -1], ["--threads", 0],
                                  ["--backend", "tpu"], ["--backend", "hailort", "--threads", 2]])
def test_cli_bad_usage_is_exit_2(tiny_bundle: Any, args: list[Any]) -> None:
    assert bench("--bundle", tiny_bundle.root, *args).exit_code == 2


def test_cli_missing_bundle_is_exit_1(tmp_path: Path) -> None:
    r = bench("--bundle", tmp_path / "nope")
    assert r.exit_code == 1 and "does not exist" in r.output


def test_cli_hailort_on_fake(tiny_hef_bundle: Any) -> None:
    r = bench("--bundle", tiny_hef_bundle.root, "--runs", 5, "--json")
    assert r.exit_code == 0, r.output
    obj = json.loads(r.stdout)
    assert obj["backend"] == "hailort" and obj["versions"]["hailort"] == "4.23.0"
    assert obj["input_dtype"] == "uint8" and obj["backend_info"]["device_arch"] == "HAILO8L"


def test_cli_hailort_without_sdk(tiny_hef_bundle: Any, no_hailo_sdk: None) -> None:
    r = bench("--bundle", tiny_hef_bundle.root, "--runs", 5)
    assert r.exit_code == 1 and "Install HailoRT" in r.output
