"""`edgenas search latency measure` (replay, onnxruntime-cpu), resume after an interruption, and the
device flow split across machines (export -> compile -> bench -> collect) through the Hailo fakes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from edgenas.runtime.cli import cli
from edgenas.search.flops import count_flops_params
from edgenas.search.latency.dataset import GENE_PREFIX, LatencyCsvWriter, read_latency_csv
from edgenas.search.latency.errors import LatencyError
from edgenas.search.latency.measure import measure_archs
from edgenas.search.latency.sample import read_archs_jsonl
from edgenas.search.latency.targets import BenchTarget, ReplayTarget, make_target, round_robin
from edgenas.search.spaces import load_space


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def recorded(tmp_path: Path, n: int = 10) -> tuple[Path, Path]:
    """archs.jsonl of ``n`` tiny-space architectures and a recorded latency CSV of them."""
    assert invoke("search", "latency", "sample", "--space", "tiny", "--n", str(n), "--seed", "1", "--out",
                  str(tmp_path / "s")).exit_code == 0
    space = load_space("tiny")
    w = LatencyCsvWriter(tmp_path / "rec" / "latency.csv", space.gene_names)
    for i, (aid, arch) in enumerate(read_archs_jsonl(tmp_path / "s" / "archs.jsonl")):
        macs, params = count_flops_params(space, arch)
        w.append({"arch_id": aid, "resolution": arch.resolution, "macs": macs, "params": params,
                  "latency_p50_ms": 0.1 + i, "latency_std_ms": 0.01,
                  **{GENE_PREFIX + g: int(v) for g, v in zip(space.gene_names, space.encode(arch), strict=True)}})
    return tmp_path / "s" / "archs.jsonl", tmp_path / "rec" / "latency.csv"


def test_measure_replay_writes_dataset_and_metadata(tmp_path: Path) -> None:
    archs, rec = recorded(tmp_path)
    res = invoke("search", "latency", "measure", "--archs", str(archs), "--space", "tiny", "--target", "replay",
                 "--replay-csv", str(rec), "--out", str(tmp_path / "m"))
    assert res.exit_code == 0, res.output
    got, want = read_latency_csv(tmp_path / "m/latency.csv"), read_latency_csv(rec)
    assert got.arch_ids == want.arch_ids and np.allclose(got.latency_ms, want.latency_ms)
    assert (got.genes == want.genes).all() and (got.columns["macs"] == want.columns["macs"]).all()
    meta = json.loads((tmp_path / "m/metadata.json").read_text())
    assert meta["space"] == "tiny" and meta["target"] == "replay" and meta["complete"] and meta["n_rows"] == 10
    assert {"cpu", "tool_versions", "host", "runs", "num_classes"} <= set(meta)


class Interrupting(ReplayTarget):
    """Replay that records every call and is interrupted (Ctrl-C) at call ``stop_at``."""

    def __init__(self, csv: Path, calls: list[str], stop_at: int | None) -> None:
        super().__init__("replay", csv=csv)
        self.calls, self.stop_at = calls, stop_at

    def measure(self, arch_id: str, bundle_dir: Path | None) -> dict[str, Any]:
        if self.stop_at is not None and len(self.calls) == self.stop_at:
            raise KeyboardInterrupt
        self.calls.append(arch_id)
        return super().measure(arch_id, bundle_dir)


def test_interrupted_measurement_resumes_without_measuring_twice(tmp_path: Path) -> None:
    archs_file, rec = recorded(tmp_path)
    space, archs = load_space("tiny"), read_archs_jsonl(archs_file)
    calls: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        measure_archs(archs, space, Interrupting(rec, calls, stop_at=4), tmp_path / "m", num_classes=10)
    partial = read_latency_csv(tmp_path / "m/latency.csv")  # a valid CSV of the rows measured so far
    assert partial.arch_ids == calls == [a for a, _ in archs[:4]]
    assert not json.loads((tmp_path / "m/metadata.json").read_text())["complete"]
    summary = measure_archs(archs, space, Interrupting(rec, calls, stop_at=None), tmp_path / "m", num_classes=10)
    assert summary["measured"] == 6 and summary["skipped"] == 4
    assert sorted(calls) == sorted(a for a, _ in archs) and len(calls) == len(set(calls))
    assert read_latency_csv(tmp_path / "m/latency.csv").arch_ids == [a for a, _ in archs]
    assert json.loads((tmp_path / "m/metadata.json").read_text())["complete"]


def test_resume_with_other_settings_is_refused(tmp_path: Path) -> None:
    archs, rec = recorded(tmp_path)
    base = ["search", "latency", "measure", "--archs", str(archs), "--space", "tiny", "--out", str(tmp_path / "m")]
    assert invoke(*base, "--target", "replay", "--replay-csv", str(rec)).exit_code == 0
    (tmp_path / "rec2").mkdir()
    (tmp_path / "rec2/latency.csv").write_text(rec.read_text())
    res = invoke(*base, "--target", "replay", "--replay-csv", str(tmp_path / "rec2/latency.csv"))
    assert res.exit_code == 1 and "other" in res.output and "--out" in res.output


def test_replay_of_an_unrecorded_arch_and_unknown_target(tmp_path: Path) -> None:
    _, rec = recorded(tmp_path, n=3)
    with pytest.raises(LatencyError, match="not in the replayed"):
        make_target("replay", csv=rec).measure("000000000000", None)
    with pytest.raises(LatencyError, match="unknown latency target"):
        make_target("tpu")
    res = invoke("search", "latency", "measure", "--archs", str(tmp_path / "s/archs.jsonl"), "--space", "cifar",
                 "--target", "replay", "--replay-csv", str(rec), "--out", str(tmp_path / "m"))
    assert res.exit_code == 1  # tiny architectures are not in the cifar space


def test_measure_onnxruntime_cpu_for_real(tmp_path: Path) -> None:
    assert invoke("search", "latency", "sample", "--space", "tiny", "--n", "2", "--seed", "0", "--out",
                  str(tmp_path)).exit_code == 0
    res = invoke("search", "latency", "measure", "--archs", str(tmp_path / "archs.jsonl"), "--space", "tiny",
                 "--out", str(tmp_path / "m"), "--runs", "5", "--warmup", "1")
    assert res.exit_code == 0, res.output
    d = read_latency_csv(tmp_path / "m/latency.csv")
    assert len(d) == 2 and (d.latency_ms > 0).all() and (d.columns["latency_p90_ms"] >= d.latency_ms).all()
    meta = json.loads((tmp_path / "m/metadata.json").read_text())
    assert meta["target_settings"]["threads"] == 1 and meta["target_settings"]["runs"] == 5
    assert meta["target_backend_info"]["backend"] == "onnxruntime" and "exporter" in meta
    assert not (tmp_path / "m/.work").exists() or not any((tmp_path / "m/.work").iterdir())


def test_device_flow_export_compile_bench_collect(hailo_fakes: Any, tmp_path: Path) -> None:
    """Here: export; compile container: `edgenas compile hef`; device: `edgenas bench --json`; here: collect."""
    assert invoke("search", "latency", "sample", "--space", "tiny", "--n", "2", "--seed", "5", "--out",
                  str(tmp_path)).exit_code == 0
    archs = str(tmp_path / "archs.jsonl")
    res = invoke("search", "latency", "export", "--archs", archs, "--space", "tiny", "--calib", "4",
                 "--out", str(tmp_path / "exported"))
    assert res.exit_code == 0, res.output
    ids = [a for a, _ in read_archs_jsonl(archs)]
    (tmp_path / "bench").mkdir()
    for aid in ids:
        res = invoke("compile", "hef", "--bundle", str(tmp_path / "exported" / aid), "--target", "hailo8l",
                     "--out", str(tmp_path / "compiled" / aid))
        assert res.exit_code == 0, res.output
        res = invoke("bench", "--bundle", str(tmp_path / "compiled" / aid), "--json", "--runs", "3", "--warmup", "1")
        assert res.exit_code == 0, res.output
        (tmp_path / "bench" / f"{aid}.json").write_text(res.stdout)
    res = invoke("search", "latency", "collect", "--archs", archs, "--space", "tiny", "--target", "hailo8l",
                 "--bench", str(tmp_path / "bench"), "--out", str(tmp_path / "collected"))
    assert res.exit_code == 0, res.output
    d = read_latency_csv(tmp_path / "collected/latency.csv")
    assert d.arch_ids == ids and (d.latency_ms > 0).all() and d.has_context_label
    assert json.loads((tmp_path / "collected/metadata.json").read_text())["target"] == "hailo8l"
    res = invoke("search", "latency", "measure", "--archs", archs, "--space", "tiny", "--target", "hailo8l-estimate",
                 "--bundles", str(tmp_path / "compiled"), "--out", str(tmp_path / "estimated"))
    assert res.exit_code == 0, res.output
    est = read_latency_csv(tmp_path / "estimated/latency.csv")
    assert est.has_context_label and np.allclose(est.latency_ms * est.columns["fps"], 1000.0)


def test_estimate_without_hailort_says_what_to_install(no_hailo_sdk: None, tmp_path: Path) -> None:
    from edgenas.search.latency.targets import hef_labels

    with pytest.raises(LatencyError, match="hailo_platform"):
        hef_labels(tmp_path / "model.hef")


def test_a_second_measurement_into_the_same_directory_is_refused(tmp_path: Path) -> None:
    import os

    archs, rec = recorded(tmp_path, n=3)
    (tmp_path / "m").mkdir()
    (tmp_path / "m/.lock").write_text(str(os.getppid()))  # a live process holds the directory
    res = invoke("search", "latency", "measure", "--archs", str(archs), "--space", "tiny", "--target", "replay",
                 "--replay-csv", str(rec), "--out", str(tmp_path / "m"))
    assert res.exit_code == 1 and "being measured" in res.output
    (tmp_path / "m/.lock").write_text("999999999")  # stale: its process is gone
    res = invoke("search", "latency", "measure", "--archs", str(archs), "--space", "tiny", "--target", "replay",
                 "--replay-csv", str(rec), "--out", str(tmp_path / "m"))
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "m/.lock").exists() and len(read_latency_csv(tmp_path / "m/latency.csv")) == 3


def test_paired_measurement_against_the_reference_network(tmp_path: Path) -> None:
    assert invoke("search", "latency", "sample", "--space", "tiny", "--n", "5", "--seed", "0", "--out",
                  str(tmp_path)).exit_code == 0
    base = ["search", "latency", "measure", "--archs", str(tmp_path / "archs.jsonl"), "--space", "tiny",
            "--out", str(tmp_path / "m"), "--runs", "6", "--warmup", "1", "--block", "4", "--group", "2"]
    res = invoke(*base)  # the reference network is the default on onnxruntime-cpu
    assert res.exit_code == 0, res.output
    d = read_latency_csv(tmp_path / "m/latency.csv")
    assert len(d) == 5 and (d.columns["latency_ratio"] > 0).all() and (d.columns["reference_p50_ms"] > 0).all()
    assert np.allclose(d.columns["latency_ratio"] * d.columns["reference_p50_ms"], d.columns["latency_p50_ms"],
                       rtol=1e-4)
    meta = json.loads((tmp_path / "m/metadata.json").read_text())
    settings = meta["target_settings"]
    assert settings["reference"] == "mid" and "arch_id" in settings["reference_arch"]
    assert settings["group"] == 2 and settings["block"] == 4 and meta["runs"][-1]["done"] == 5
    assert not (tmp_path / "m/.work").exists()  # exported networks and the reference are removed
    res = invoke(*base, "--reference", "none")  # resuming without the reference would mix two kinds of figures
    assert res.exit_code == 1 and "other" in res.output


class FakeBackend:
    """Counts calls; each call busy-waits ``ms`` (a network of known latency; ``slow_until``: the
    first calls take twice as long, as when another job shares the machine)."""

    def __init__(self, ms: float, slow_until: int = 0) -> None:
        self.ms, self.calls, self.slow_until = ms, 0, slow_until

    def example_input(self) -> np.ndarray:
        return np.zeros(1, dtype=np.float32)

    def infer(self, x: np.ndarray) -> None:
        self.calls += 1
        end = time.perf_counter() + self.ms / 1e3 * (2.0 if self.calls <= self.slow_until else 1.0)
        while time.perf_counter() < end:
            pass


def test_round_robin_gives_every_network_its_runs_with_warm_visits() -> None:
    nets = [FakeBackend(0.4), FakeBackend(0.2), FakeBackend(0.1)]
    times = round_robin(nets, runs=25, warmup=3, block=10)
    assert [len(t) for t in times] == [25, 25, 25]
    assert all(n.calls == 3 + 3 + 25 for n in nets)  # warm-up, one untimed run per visit (3 visits), timed runs
    p50 = [float(np.median(t)) for t in times]
    assert 1.6 < p50[0] / p50[1] < 2.5 and 1.6 < p50[1] / p50[2] < 2.5  # the timer sees the known ratios
    with pytest.raises(LatencyError, match="Hailo device runs one network"):
        make_target("hailo8l", group=4)


class Grouping(ReplayTarget):
    """Replay with groups of three: records which architectures arrive together."""

    group_size = 3

    def __init__(self, csv: Path, groups: list[list[str]]) -> None:
        super().__init__("replay", csv=csv)
        self.groups = groups

    def measure_group(self, items: Any) -> list[dict[str, Any]]:
        self.groups.append([aid for aid, _ in items])
        return super().measure_group(items)


def test_measurement_in_groups_keeps_order_and_resumes(tmp_path: Path) -> None:
    archs_file, rec = recorded(tmp_path, n=7)
    space, archs = load_space("tiny"), read_archs_jsonl(archs_file)
    groups: list[list[str]] = []
    measure_archs(archs[:4], space, Grouping(rec, groups), tmp_path / "m", num_classes=10)
    summary = measure_archs(archs, space, Grouping(rec, groups), tmp_path / "m", num_classes=10)
    ids = [a for a, _ in archs]
    assert groups == [ids[0:3], ids[3:4], ids[4:7]] and summary["measured"] == 3
    assert read_latency_csv(tmp_path / "m/latency.csv").arch_ids == ids


def test_a_group_measured_on_a_busy_machine_is_measured_again() -> None:
    target = make_target("onnxruntime-cpu", reference="mid", runs=10, warmup=2, block=5, retries=2)
    assert isinstance(target, BenchTarget)
    first = FakeBackend(0.2, slow_until=14)  # the first group: measured twice, the quieter attempt kept
    times = target._rotation_with_gate([FakeBackend(0.1), first])
    assert first.calls == 2 * 14 and target.remeasured_groups == 0 and float(np.median(times[-1])) < 0.3
    target._quietest_ref_ms = 0.2  # an earlier group ran the reference at 0.2 ms
    net, ref = FakeBackend(0.2), FakeBackend(0.2, slow_until=14)  # first rotation: 2 + 2 + 10 calls, all slow
    times = target._rotation_with_gate([net, ref])
    assert target.remeasured_groups == 1 and ref.calls == 2 * 14  # measured twice, then it was quiet
    assert float(np.median(times[-1])) < 0.3
    always_slow = FakeBackend(0.2, slow_until=10**6)
    times = target._rotation_with_gate([FakeBackend(0.1), always_slow])
    assert target.remeasured_groups == 3 and always_slow.calls == 3 * 14  # bounded: retries=2, best kept
    assert float(np.median(times[-1])) > 0.3
