"""Latency targets: where a latency comes from. A registry (name -> class) plus one class per kind.

==================  =====================================================  ==========================
name                measured how                                           needs
==================  =====================================================  ==========================
onnxruntime-cpu     ONNX Runtime on this CPU through the runtime's bench   nothing extra
hailo8l, hailo8     HailoRT through the runtime's bench, from HEF bundles  the device (or: collect)
hailo8l-estimate    the HEF's bottleneck FPS and multi-context flag        HailoRT wheel, no device
replay              rows of a recorded latency CSV                         the CSV
==================  =====================================================  ==========================

Every target returns the latency columns of ``dataset.LATENCY_COLUMNS`` (less macs/params) and
``settings()``, which the measurement writes into ``metadata.json``.
"""

from __future__ import annotations

import abc
import importlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edgenas.runtime.bench import latency_stats
from edgenas.search.latency.errors import LatencyError

log = logging.getLogger(__name__)
TARGETS: dict[str, tuple[str, dict[str, Any]]] = {
    "onnxruntime-cpu": ("edgenas.search.latency.targets:BenchTarget", {"backend": "onnxruntime", "threads": 1}),
    "hailo8l": ("edgenas.search.latency.targets:BenchTarget", {"backend": "hailort", "hw_arch": "hailo8l"}),
    "hailo8": ("edgenas.search.latency.targets:BenchTarget", {"backend": "hailort", "hw_arch": "hailo8"}),
    "hailo8l-estimate": ("edgenas.search.latency.targets:HefEstimateTarget", {"hw_arch": "hailo8l"}),
    "replay": ("edgenas.search.latency.targets:ReplayTarget", {}),
}


class Target(abc.ABC):
    name: str = "?"
    #: what measure() needs per architecture: "onnx" (an exported ONNX bundle), "hef" (a compiled
    #: bundle), or "none" (replay)
    needs: str = "onnx"
    #: architectures handed to measure_group() at once
    group_size: int = 1

    def __init__(self, name: str, **options: Any) -> None:
        self.name = name
        self.options = options

    @abc.abstractmethod
    def measure(self, arch_id: str, bundle_dir: Path | None) -> dict[str, Any]:
        """The latency columns of one architecture."""

    def measure_group(self, items: Sequence[tuple[str, Path | None]]) -> list[dict[str, Any]]:
        """The latency columns of several architectures (``group_size`` at most), in order."""
        return [self.measure(aid, d) for aid, d in items]

    def settings(self) -> dict[str, Any]:
        return {"target": self.name, **self.options}

    def prepare(self, space: Any, num_classes: int, workdir: Path) -> None:  # noqa: B027 - optional hook
        """Called once before the first measurement (e.g. to export a reference network)."""


def make_target(name: str, **options: Any) -> Target:
    if name not in TARGETS:
        raise LatencyError(f"unknown latency target {name!r}; choose one of {sorted(TARGETS)}")
    path, defaults = TARGETS[name]
    module, cls_name = path.split(":")
    cls = getattr(importlib.import_module(module), cls_name)
    target: Target = cls(name, **{**defaults, **{k: v for k, v in options.items() if v is not None}})
    return target


def _bench_columns(stats: dict[str, Any]) -> dict[str, Any]:
    return {"latency_p50_ms": stats["p50_ms"], "latency_p90_ms": stats.get("p90_ms"),
            "latency_p99_ms": stats.get("p99_ms"), "latency_mean_ms": stats.get("mean_ms"),
            "latency_std_ms": stats.get("std_ms"), "latency_min_ms": stats.get("min_ms"), "fps": stats.get("fps")}


class BenchTarget(Target):
    """Open bundles on a runtime backend and measure batch-1 latency with the runtime's timer.

    On ONNX Runtime, ``group`` architectures (and the reference network, when ``reference`` is set)
    are measured together, round-robin: each visit runs one network ``block`` times after one untimed
    run, then moves on, until every network has ``runs`` timed runs. Every network is timed with warm
    caches (as it runs in deployment), and a slow-down of the machine that lasts longer than one visit
    spreads over all networks of the group instead of landing on one of them. ``latency_ratio`` is
    the network's p50 over the reference's p50 from the same rotation: machine-wide speed changes
    between groups and processes cancel out of it (docs/search-latency.md has the figures).

    With the reference, a group is measured again (up to ``retries`` times, the attempt with the
    fastest reference kept) when the reference ran more than ``tolerance`` × slower than in the
    quietest group so far: something else used the machine during that group, and such a slow-down
    does not land on all networks of the group alike. The first group is always measured twice,
    the second time gated against the first.
    """

    def __init__(self, name: str, *, backend: str, runs: int = 50, warmup: int = 10, threads: int | None = None,
                 hw_arch: str | None = None, reference: str | None = None, group: int = 1,
                 block: int = 10, tolerance: float = 1.1, retries: int = 3) -> None:
        super().__init__(name, backend=backend, runs=runs, warmup=warmup, threads=threads, hw_arch=hw_arch)
        if backend == "onnxruntime":
            if group < 1 or block < 1:
                raise LatencyError(f"--group and --block must be >= 1, got {group} and {block}")
            self.options.update(group=group, block=block)
            self.group_size = group
        elif group != 1 or reference is not None:
            raise LatencyError("--group and --reference (round-robin, paired measurement) are for onnxruntime-cpu "
                               "only; a Hailo device runs one network at a time")
        if reference is not None:
            if reference != "mid":
                raise LatencyError(f"unknown --reference {reference!r}; the reference network is 'mid'")
            self.options.update(reference=reference, tolerance=tolerance, retries=retries)
        self.needs = "hef" if backend == "hailort" else "onnx"
        self.backend_info: dict[str, Any] = {}
        self._reference: Path | None = None
        self._quietest_ref_ms = float("inf")
        self.remeasured_groups = 0

    def prepare(self, space: Any, num_classes: int, workdir: Path) -> None:
        if self.options.get("reference") is None:
            return
        from edgenas.search.latency.measure import export_for_latency

        arch = reference_arch(space)
        self.options["reference_arch"] = {"arch_id": arch.arch_id, **arch.to_dict()}
        self._reference = export_for_latency(space, arch, workdir / "reference", num_classes)

    def measure(self, arch_id: str, bundle_dir: Path | None) -> dict[str, Any]:
        return self.measure_group([(arch_id, bundle_dir)])[0]

    def measure_group(self, items: Sequence[tuple[str, Path | None]]) -> list[dict[str, Any]]:
        from contextlib import ExitStack

        from edgenas.runtime.backends.base import open_backend
        from edgenas.runtime.bundle import load_bundle

        missing = [aid for aid, d in items if d is None]
        if missing:
            raise LatencyError(f"target {self.name} measures bundles; none was given for {missing}")
        bundles = [load_bundle(d) for _, d in items if d is not None]
        opts = {"threads": self.options["threads"]} if self.options["backend"] == "onnxruntime" else {}
        with ExitStack() as stack:
            backends = [stack.enter_context(open_backend(b, self.options["backend"], **opts)) for b in bundles]
            if self._reference is not None:  # timed last in every rotation
                backends.append(stack.enter_context(open_backend(load_bundle(self._reference), "onnxruntime", **opts)))
                times = self._rotation_with_gate(backends)
            elif self.options["backend"] == "onnxruntime":
                times = round_robin(backends, self.options["runs"], self.options["warmup"], self.options["block"])
            else:
                from edgenas.runtime.bench import time_infer

                times = [time_infer(b, b.example_input(), self.options["runs"], self.options["warmup"])
                         for b in backends]
            self.backend_info = backends[0].info()
        rows = [_bench_columns(latency_stats(t)) for t in times[:len(items)]]
        if self._reference is not None:
            ref_p50 = float(np.median(times[-1]))
            for row in rows:
                row.update(latency_ratio=row["latency_p50_ms"] / ref_p50, reference_p50_ms=ref_p50)
        if self.options["backend"] == "hailort":
            for row, bundle in zip(rows, bundles, strict=True):
                labels = hef_labels(bundle.model_path)
                labels.pop("bottleneck_fps")
                row.update(labels)
        return rows

    def _rotation_with_gate(self, backends: Sequence[Any]) -> list[np.ndarray]:
        """``round_robin`` (the reference last), again while the reference shows a disturbed machine."""
        best: list[np.ndarray] | None = None
        for attempt in range(1 + self.options["retries"]):
            times = round_robin(backends, self.options["runs"], self.options["warmup"], self.options["block"])
            if best is None or np.median(times[-1]) < np.median(best[-1]):
                best = times
            ref_ms = float(np.median(times[-1]))
            if attempt == 0 and self._quietest_ref_ms == float("inf") and self.options["retries"] > 0:
                self._quietest_ref_ms = ref_ms  # the first group has nothing to be compared with:
                continue  # it is measured twice, and the second run is gated against the first
            if ref_ms <= self.options["tolerance"] * self._quietest_ref_ms:
                break
            if attempt < self.options["retries"]:
                self.remeasured_groups += 1
                log.info("reference p50 %.4g ms, %.0f %% above the quietest group's %.4g ms: the machine was busy; "
                         "measuring the group again", ref_ms, 100 * (ref_ms / self._quietest_ref_ms - 1),
                         self._quietest_ref_ms)
        assert best is not None
        self._quietest_ref_ms = min(self._quietest_ref_ms, float(np.median(best[-1])))
        return best

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "backend_info": self.backend_info}


def reference_arch(space: Any) -> Any:
    """The fixed reference network of paired measurements: every gene at the middle of its range."""
    return space.decode(np.asarray(space.gene_bounds()[1]) // 2)


def round_robin(backends: Sequence[Any], runs: int, warmup: int, block: int) -> list[np.ndarray]:
    """Per-run latencies (ms) of each backend, measured in rotation (see ``BenchTarget``).

    ``warmup`` untimed runs per backend first; then visits in turn: one untimed run (caches refilled
    after the other networks ran), then up to ``block`` timed runs, until each has ``runs``.
    The timer is the runtime bench's (``time.perf_counter_ns`` around ``Backend.infer``).
    """
    from edgenas.runtime.bench import time_calls

    inputs = [b.example_input() for b in backends]
    for b, x in zip(backends, inputs, strict=True):
        for _ in range(warmup):
            b.infer(x)
    out: list[list[np.ndarray]] = [[] for _ in backends]
    for start in range(0, runs, block):
        n = min(block, runs - start)
        for j, (b, x) in enumerate(zip(backends, inputs, strict=True)):
            out[j].append(time_calls(b.infer, x, n, 1, progress=False))
    return [np.concatenate(parts) for parts in out]


def hef_labels(hef_path: Path) -> dict[str, Any]:
    """Context label and bottleneck FPS of a HEF, read offline through ``hailo_platform.HEF`` (no device)."""
    try:
        from hailo_platform import HEF
    except ImportError as exc:
        raise LatencyError("reading HEF labels needs HailoRT's Python wheel (hailo_platform), which is not "
                           "installed; run this in the compile or runtime container (vendor/ holds the wheel)") from exc
    hef = HEF(str(hef_path))
    infos = hef.get_network_groups_infos()
    if len(infos) != 1:
        raise LatencyError(f"{hef_path} holds {len(infos)} network groups; a subnet HEF must hold exactly one")
    multi = bool(infos[0].is_multi_context)
    return {"multi_context": int(multi), "bottleneck_fps": float(hef.bottleneck_fps())}


class HefEstimateTarget(Target):
    """No device: latency = 1000 / the compiler's bottleneck FPS, plus the single/multi-context label."""

    needs = "hef"

    def measure(self, arch_id: str, bundle_dir: Path | None) -> dict[str, Any]:
        from edgenas.runtime.bundle import load_bundle

        if bundle_dir is None:
            raise LatencyError(f"hailo8l-estimate reads a compiled HEF bundle; none was found for {arch_id}")
        bundle = load_bundle(bundle_dir)
        if bundle.manifest.model_format != "hef":
            raise LatencyError(f"{bundle_dir} holds a {bundle.manifest.model_format} model, not a HEF; compile it "
                               "first with `edgenas compile` in the compile container")
        labels = hef_labels(bundle.model_path)
        fps = labels.pop("bottleneck_fps")
        return {"latency_p50_ms": 1000.0 / fps, "fps": fps, **labels}


class ReplayTarget(Target):
    """The latencies of a recorded data set (tests, shared data sets); an unknown arch_id is an error."""

    needs = "none"

    def __init__(self, name: str, *, csv: str | Path | None = None) -> None:
        if csv is None:
            raise LatencyError("the replay target needs a recorded data set: pass --replay-csv latency.csv")
        super().__init__(name, csv=str(csv))
        from edgenas.search.latency.dataset import LATENCY_COLUMNS, read_latency_csv

        data = read_latency_csv(csv)
        keep = [c for c in LATENCY_COLUMNS if c in data.columns and c not in ("macs", "params")]
        self._rows = {aid: {c: _nan_none(data.columns[c][i]) for c in keep} for i, aid in enumerate(data.arch_ids)}

    def measure(self, arch_id: str, bundle_dir: Path | None) -> dict[str, Any]:
        if arch_id not in self._rows:
            raise LatencyError(f"architecture {arch_id} is not in the replayed data set {self.options['csv']}; "
                               "replay only serves recorded architectures")
        return dict(self._rows[arch_id])


def _nan_none(v: float) -> float | None:
    return None if v != v else float(v)
