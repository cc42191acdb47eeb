"""The predictor's baselines: FLOPs-linear regression and a per-block lookup table (LUT).

* ``FlopsLinear``: latency_ms = a * MACs + b, least squares on the predictor's training split
  (fitted by ``edgenas search predictor train`` and stored in the predictor directory).
* ``LookupTable``: latency = sum of the measured latencies of the network's blocks (stem, every
  MBConv block at its input size, head), each measured alone as its own small ONNX model on the
  same target (``blocks.build_lut``). No end-to-end latency is used, so it needs no training split.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgenas.search.latency.errors import LatencyError

LUT_FORMAT = 1


@dataclass(frozen=True)
class FlopsLinear:
    slope_ms_per_mmac: float
    intercept_ms: float

    @classmethod
    def fit(cls, macs: np.ndarray, latency_ms: np.ndarray) -> FlopsLinear:
        a, b = np.polyfit(np.asarray(macs, dtype=np.float64) / 1e6, np.asarray(latency_ms, dtype=np.float64), 1)
        return cls(float(a), float(b))

    def predict(self, macs: np.ndarray) -> np.ndarray:
        return np.asarray(macs, dtype=np.float64) / 1e6 * self.slope_ms_per_mmac + self.intercept_ms

    def to_dict(self) -> dict[str, float]:
        return {"slope_ms_per_mmac": self.slope_ms_per_mmac, "intercept_ms": self.intercept_ms}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FlopsLinear:
        return cls(float(d["slope_ms_per_mmac"]), float(d["intercept_ms"]))


class LookupTable:
    """A LUT file: ``{format_version, space, target, settings, entries: {key: {p50_ms, ...}}}``."""

    def __init__(self, data: dict[str, Any], path: Path | None = None) -> None:
        self.data, self.path = data, path

    @property
    def entries(self) -> dict[str, Any]:
        entries: dict[str, Any] = self.data["entries"]
        return entries

    @classmethod
    def load(cls, path: str | Path, *, space: str | None = None, target: str | None = None) -> LookupTable:
        path = Path(path)
        if not path.is_file():
            raise LatencyError(f"lookup table {path} does not exist; build it with `edgenas search latency lut`")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise LatencyError(f"{path} is not valid JSON ({exc}); rebuild the lookup table") from exc
        if data.get("format_version") != LUT_FORMAT:
            raise LatencyError(f"{path} is not a lookup table of format {LUT_FORMAT}; rebuild it")
        for key, want in (("space", space), ("target", target)):
            if want is not None and data.get(key) != want:
                raise LatencyError(f"lookup table {path} was measured for {key} {data.get(key)!r}, not {want!r}")
        return cls(data, path)

    def predict_keys(self, keys_per_arch: Sequence[Sequence[str]]) -> np.ndarray:
        out = []
        for keys in keys_per_arch:
            missing = [k for k in keys if k not in self.entries]
            if missing:
                raise LatencyError(f"the lookup table has no entry for {len(missing)} block(s) of an architecture "
                                   f"(e.g. {missing[0]}); extend it: `edgenas search latency lut --archs ...`")
            out.append(sum(float(self.entries[k]["p50_ms"]) for k in keys))
        return np.asarray(out, dtype=np.float64)
