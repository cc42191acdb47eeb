"""Device targets, split across machines: collect ``edgenas bench --json`` results into a latency.csv.

The flow (docs/search-latency.md): ``edgenas search latency export`` here writes one ONNX bundle per
architecture; ``edgenas compile`` in the compile container turns each into a HEF bundle; on the
device ``edgenas bench --bundle compiled/<arch_id> --json > bench/<arch_id>.json``; then
``edgenas search latency collect`` merges the JSONs (and, with ``--compiled``, the HEFs' context
labels) into the same resumable latency.csv + metadata.json that ``measure`` writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from edgenas.search.latency.errors import LatencyError
from edgenas.search.latency.targets import Target, hef_labels

_STAT_KEYS = ("p50_ms", "p90_ms", "p99_ms", "mean_ms", "std_ms", "min_ms", "fps")


def bench_stats(doc: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The latency statistics of one bench JSON (top level, or under ``latency``)."""
    for cand in (doc, doc.get("latency"), doc.get("stats")):
        if isinstance(cand, Mapping) and cand.get("p50_ms") is not None:
            return {k: cand.get(k) for k in _STAT_KEYS}
    raise LatencyError(f"{where} has no p50_ms; it is not the output of `edgenas bench --json`")


class BenchJsonTarget(Target):
    """Reads BENCH_DIR/<arch_id>.json written on the device; the context label from the JSON's
    ``backend_info.hef.multi_context`` (what the runtime's Hailo backend reports), or from the HEF in
    COMPILED/<arch_id>/ when given."""

    needs = "none"

    def __init__(self, name: str, *, bench_dir: str | Path, compiled: str | Path | None = None) -> None:
        super().__init__(name, source="edgenas bench --json", bench_dir=str(bench_dir),
                         compiled=None if compiled is None else str(compiled))
        self.bench_dir = Path(bench_dir)
        self.compiled = None if compiled is None else Path(compiled)
        self.backend_info: dict[str, Any] = {}

    def path(self, arch_id: str) -> Path:
        return self.bench_dir / f"{arch_id}.json"

    def measure(self, arch_id: str, bundle_dir: Path | None) -> dict[str, Any]:
        p = self.path(arch_id)
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise LatencyError(f"cannot read bench result {p}: {exc}") from exc
        doc_id = doc.get("arch_id") or (doc.get("architecture") or {}).get("arch_id")
        if doc_id is not None and doc_id != arch_id:
            raise LatencyError(f"{p} measured architecture {doc_id}, not {arch_id}; the file was misnamed")
        s = bench_stats(doc, str(p))
        self.backend_info = {k: doc[k] for k in ("backend", "device", "versions", "threads") if k in doc}
        row = {"latency_p50_ms": s["p50_ms"], "latency_p90_ms": s["p90_ms"], "latency_p99_ms": s["p99_ms"],
               "latency_mean_ms": s["mean_ms"], "latency_std_ms": s["std_ms"], "latency_min_ms": s["min_ms"],
               "fps": s["fps"]}
        hef = (doc.get("backend_info") or {}).get("hef") or {}
        if "multi_context" in hef:  # HailoBackend.info() reads it from the HEF on the device
            row["multi_context"] = int(bool(hef["multi_context"]))
        if self.compiled is not None:
            from edgenas.runtime.bundle import load_bundle

            labels = hef_labels(load_bundle(self.compiled / arch_id).model_path)
            labels.pop("bottleneck_fps")
            row.update(labels)
        return row

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "backend_info": self.backend_info}
