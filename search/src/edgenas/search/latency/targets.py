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
from pathlib import Path
from typing import Any

from edgenas.search.latency.errors import LatencyError

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

    def __init__(self, name: str, **options: Any) -> None:
        self.name = name
        self.options = options

    @abc.abstractmethod
    def measure(self, arch_id: str, bundle_dir: Path | None) -> dict[str, Any]:
        """The latency columns of one architecture."""

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
    """Open the bundle on a runtime backend and measure batch-1 latency with the runtime's bench."""

    def __init__(self, name: str, *, backend: str, runs: int = 50, warmup: int = 10, threads: int | None = None,
                 hw_arch: str | None = None, reference: str | None = None) -> None:
        super().__init__(name, backend=backend, runs=runs, warmup=warmup, threads=threads, hw_arch=hw_arch)
        if reference is not None:
            if backend != "onnxruntime" or reference != "mid":
                raise LatencyError("--reference mid (paired measurement) is available on onnxruntime-cpu only")
            self.options["reference"] = reference
        self.needs = "hef" if backend == "hailort" else "onnx"
        self.backend_info: dict[str, Any] = {}
        self._reference: Path | None = None

    def prepare(self, space: Any, num_classes: int, workdir: Path) -> None:
        if self.options.get("reference") is None:
            return
        from edgenas.search.latency.measure import export_for_latency

        arch = reference_arch(space)
        self.options["reference_arch"] = {"arch_id": arch.arch_id, **arch.to_dict()}
        self._reference = export_for_latency(space, arch, workdir / "reference", num_classes)

    def measure(self, arch_id: str, bundle_dir: Path | None) -> dict[str, Any]:
        from edgenas.runtime.backends.base import open_backend
        from edgenas.runtime.bench import measure_latency
        from edgenas.runtime.bundle import load_bundle

        if bundle_dir is None:
            raise LatencyError(f"target {self.name} measures a bundle; none was given for {arch_id}")
        bundle = load_bundle(bundle_dir)
        opts = {"threads": self.options["threads"]} if self.options["backend"] == "onnxruntime" else {}
        with open_backend(bundle, self.options["backend"], **opts) as backend:
            if self._reference is not None:
                with open_backend(load_bundle(self._reference), "onnxruntime", **opts) as ref:
                    stats = paired_latency(backend, ref, self.options["runs"], self.options["warmup"])
            else:
                stats = measure_latency(backend, runs=self.options["runs"], warmup=self.options["warmup"])
            self.backend_info = backend.info()
        row = _bench_columns(stats)
        if "ratio" in stats:
            row["latency_ratio"] = stats["ratio"]
        if self.options["backend"] == "hailort":
            labels = hef_labels(bundle.model_path)
            labels.pop("bottleneck_fps")
            row.update(labels)
        return row

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "backend_info": self.backend_info}


def reference_arch(space: Any) -> Any:
    """The fixed reference network of paired measurements: every gene at the middle of its range."""
    import numpy as np

    return space.decode(np.asarray(space.gene_bounds()[1]) // 2)


def paired_latency(backend: Any, ref: Any, runs: int, warmup: int) -> dict[str, Any]:
    """Interleave ``backend`` and the reference network run by run (same timer as the runtime's bench).

    Returns the network's own statistics (``latency_stats``) plus ``ratio``: the median over the runs
    of (network time / the reference's time right after it). A slow-down of the whole machine that
    lasts longer than one pair cancels out of the ratio; it does not cancel out of p50 or min.
    """
    import time

    import numpy as np

    from edgenas.runtime.bench import latency_stats

    x, xr = backend.example_input(), ref.example_input()
    for _ in range(warmup):
        backend.infer(x)
        ref.infer(xr)
    own, other = np.empty(runs), np.empty(runs)
    clock = time.perf_counter_ns
    for i in range(runs):
        t0 = clock()
        backend.infer(x)
        t1 = clock()
        ref.infer(xr)
        t2 = clock()
        own[i], other[i] = (t1 - t0) / 1e6, (t2 - t1) / 1e6
    return {**latency_stats(own), "ratio": float(np.median(own / other)),
            "reference_p50_ms": float(np.median(other))}


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
