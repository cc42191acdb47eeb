"""The latency data set: ``latency.csv`` (one row per architecture) + ``metadata.json``.

Columns, in this order: ``arch_id``, ``resolution``, one ``gene_<name>`` column per gene of the
space's chromosome (integer choice indices, ``SearchSpace.encode``), then ``LATENCY_COLUMNS``.
``latency_p50_ms`` is the latency the predictor learns by default; the others say how spread it
was (``latency_min_ms``, the fastest run, is the robust choice on a CPU shared with other jobs:
``edgenas search predictor train --latency-column latency_min_ms``). ``latency_ratio`` (paired
measurement, ``measure --reference mid``, the default on onnxruntime-cpu) is this network's p50 divided
by the p50 of a fixed reference network timed in the same round-robin rotation
(``reference_p50_ms``): machine-wide speed changes cancel out of it. A predictor trained on the
ratio turns it back into milliseconds with one scale, the median ``reference_p50_ms`` of its
training data (``LatencyData.with_target(column, scale)``).
``fps``, ``n_contexts`` and ``multi_context`` (0/1) are filled for Hailo targets and empty otherwise.

Rows are appended one at a time by rewriting the file atomically (temp file + rename), so a killed
measurement leaves a valid CSV holding every row measured so far, never a half row.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgenas.runtime._io import atomic_write_json, atomic_write_text
from edgenas.search.latency.errors import LatencyError

GENE_PREFIX = "gene_"
LATENCY_COLUMNS = ("latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_mean_ms", "latency_std_ms",
                   "latency_min_ms", "latency_ratio", "reference_p50_ms", "fps", "n_contexts", "multi_context", "macs", "params")
REQUIRED = ("arch_id", "resolution", "latency_p50_ms", "macs", "params")
CSV_NAME = "latency.csv"
METADATA_NAME = "metadata.json"


def header_for(gene_names: Sequence[str]) -> list[str]:
    return ["arch_id", "resolution", *(GENE_PREFIX + g for g in gene_names), *LATENCY_COLUMNS]


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


class LatencyCsvWriter:
    """Append rows to a latency CSV; every append rewrites the file atomically."""

    def __init__(self, path: str | Path, gene_names: Sequence[str]) -> None:
        self.path = Path(path)
        self.header = header_for(gene_names)
        self._lines: list[str] = []
        if self.path.exists():
            data = read_latency_csv(self.path)
            if data.header != self.header:
                raise LatencyError(
                    f"{self.path} has columns {data.header[:4]}… that do not match this space's chromosome "
                    f"({len(gene_names)} genes); it belongs to another space: choose another --out")
            self._lines = self.path.read_text(encoding="utf-8").splitlines()[1:]
            self.ids = set(data.arch_ids)
        else:
            self.ids = set()

    def append(self, row: Mapping[str, Any]) -> None:
        missing = [c for c in REQUIRED if row.get(c) in (None, "")]
        if missing:
            raise LatencyError(f"a latency row for {row.get('arch_id')!r} lacks {missing}")
        unknown = set(row) - set(self.header)
        if unknown:
            raise LatencyError(f"a latency row has unknown columns {sorted(unknown)}")
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([_fmt(row.get(c)) for c in self.header])
        self._lines.append(buf.getvalue().rstrip("\n"))
        text = ",".join(self.header) + "\n" + "".join(line + "\n" for line in self._lines)
        atomic_write_text(self.path, text)
        self.ids.add(str(row["arch_id"]))


@dataclass(frozen=True)
class LatencyData:
    """A latency data set in memory (one or more CSVs of the same space, concatenated)."""

    header: list[str]
    gene_names: list[str]
    arch_ids: list[str]
    genes: np.ndarray  # (n, n_genes) int64
    resolution: np.ndarray  # (n,) int64
    columns: dict[str, np.ndarray]  # float64; NaN where empty

    def __len__(self) -> int:
        return len(self.arch_ids)

    target_column: str = "latency_p50_ms"
    target_scale: float = 1.0  # ms per unit of target_column (the reference's ms for latency_ratio)

    @property
    def latency_ms(self) -> np.ndarray:
        """The latency being predicted, in ms: ``target_column`` (p50 unless chosen otherwise) × ``target_scale``."""
        return self.columns[self.target_column] * self.target_scale

    def with_target(self, column: str, scale: float = 1.0) -> LatencyData:
        values = self.columns.get(column)
        if values is None or not (np.isfinite(values).all() and (values > 0).all()):
            raise LatencyError(f"the data set has no complete positive column {column!r}; choose one of "
                               f"{[c for c in self.columns if c.startswith('latency_') and self.complete(c)]}")
        if not (np.isfinite(scale) and scale > 0):
            raise LatencyError(f"the scale of {column!r} must be a positive number, got {scale}")
        return dataclasses.replace(self, target_column=column, target_scale=float(scale))

    def complete(self, column: str) -> bool:
        """Whether ``column`` exists and holds a positive number in every row."""
        values = self.columns.get(column)
        return values is not None and len(values) > 0 and bool(np.isfinite(values).all() and (values > 0).all())

    @property
    def has_context_label(self) -> bool:
        mc = self.columns.get("multi_context")
        return mc is not None and bool(np.isfinite(mc).all()) and len(mc) > 0

    def subset(self, index: np.ndarray) -> LatencyData:
        index = np.asarray(index, dtype=np.int64)
        return dataclasses.replace(self, arch_ids=[self.arch_ids[i] for i in index], genes=self.genes[index],
                                   resolution=self.resolution[index],
                                   columns={k: v[index] for k, v in self.columns.items()})


def _float(text: str, where: str) -> float:
    if text == "":
        return math.nan
    try:
        return float(text)
    except ValueError as exc:
        raise LatencyError(f"{where}: {text!r} is not a number; the CSV is corrupt, re-measure or fix it") from exc


def read_latency_csv(path: str | Path) -> LatencyData:
    path = Path(path)
    if not path.is_file():
        raise LatencyError(f"latency data set {path} does not exist; make one with `edgenas search latency measure`")
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise LatencyError(f"{path} is empty; it is not a latency data set")
    header, body = rows[0], rows[1:]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise LatencyError(f"{path} lacks the columns {missing}; it was not written by `edgenas search latency`")
    gene_cols = [c for c in header if c.startswith(GENE_PREFIX)]
    if not gene_cols:
        raise LatencyError(f"{path} has no gene_* columns; the predictor needs the chromosome of every row")
    idx = {c: i for i, c in enumerate(header)}
    cols: dict[str, list[float]] = {c: [] for c in LATENCY_COLUMNS if c in idx}
    ids, genes, res = [], [], []
    for n, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise LatencyError(f"{path}:{n} has {len(row)} fields, the header has {len(header)}; the file is corrupt")
        ids.append(row[idx["arch_id"]])
        res.append(int(_float(row[idx["resolution"]], f"{path}:{n}")))
        genes.append([int(_float(row[idx[g]], f"{path}:{n}")) for g in gene_cols])
        for c in cols:
            cols[c].append(_float(row[idx[c]], f"{path}:{n}"))
    if len(set(ids)) != len(ids):
        raise LatencyError(f"{path} lists an arch_id twice; a data set holds each architecture once")
    return LatencyData(header, [g[len(GENE_PREFIX):] for g in gene_cols], ids,
                       np.asarray(genes, dtype=np.int64).reshape(len(ids), len(gene_cols)),
                       np.asarray(res, dtype=np.int64), {c: np.asarray(v, dtype=np.float64) for c, v in cols.items()})


def read_metadata(csv_path: str | Path) -> dict[str, Any] | None:
    meta = Path(csv_path).with_name(METADATA_NAME)
    if not meta.is_file():
        return None
    try:
        data: dict[str, Any] = json.loads(meta.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise LatencyError(f"{meta} is not valid JSON ({exc}); restore or delete it") from exc
    return data


def write_metadata(out_dir: str | Path, metadata: Mapping[str, Any]) -> Path:
    return atomic_write_json(Path(out_dir) / METADATA_NAME, dict(metadata))


def load_datasets(paths: Iterable[str | Path], *, space: str | None = None, target: str | None = None) -> LatencyData:
    """Read and concatenate latency CSVs; each one's metadata (if present) must name ``space``/``target``."""
    parts = []
    for p in paths:
        meta = read_metadata(p) or {}
        for key, want in (("space", space), ("target", target)):
            have = meta.get(key)
            if want is not None and have is not None and have != want:
                raise LatencyError(f"{p} was measured for {key} {have!r}, not {want!r}; pass data of {key} {want!r}")
        parts.append(read_latency_csv(p))
    if not parts:
        raise LatencyError("no latency data set given; pass --data latency.csv")
    first = parts[0]
    for other in parts[1:]:
        if other.gene_names != first.gene_names:
            raise LatencyError("the latency CSVs have different gene columns; they come from different spaces")
    ids = [i for p in parts for i in p.arch_ids]
    if len(set(ids)) != len(ids):
        raise LatencyError("the same arch_id appears in two of the latency CSVs; pass each architecture once")
    keys = set.intersection(*(set(p.columns) for p in parts))
    return LatencyData(first.header, first.gene_names, ids, np.concatenate([p.genes for p in parts]),
                       np.concatenate([p.resolution for p in parts]),
                       {k: np.concatenate([p.columns[k] for p in parts]) for k in keys})


def write_latency_csv(data: LatencyData, path: str | Path) -> Path:
    """Write ``data`` (e.g. a held-out subset) as a latency CSV, atomically."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(data.header)
    gene_idx = {GENE_PREFIX + g: j for j, g in enumerate(data.gene_names)}
    for i, aid in enumerate(data.arch_ids):
        row: list[str] = []
        for c in data.header:
            if c == "arch_id":
                row.append(aid)
            elif c == "resolution":
                row.append(str(int(data.resolution[i])))
            elif c in gene_idx:
                row.append(str(int(data.genes[i, gene_idx[c]])))
            else:
                v = data.columns[c][i] if c in data.columns else math.nan
                row.append(_fmt(int(v) if c in ("macs", "params", "n_contexts", "multi_context")
                                and v == v else float(v)))
        w.writerow(row)
    return atomic_write_text(path, buf.getvalue())
