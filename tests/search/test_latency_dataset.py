"""Latency data set format, archs.jsonl from `edgenas search latency sample`, and their refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgenas.runtime.cli import cli
from edgenas.search.arch import ArchConfig, load_arch
from edgenas.search.latency.dataset import (
    LatencyCsvWriter,
    load_datasets,
    read_latency_csv,
    write_latency_csv,
    write_metadata,
)
from edgenas.search.latency.errors import LatencyError
from edgenas.search.spaces import load_space


def _sample(out: Path, *extra: str, n: int = 12, seed: int = 3) -> list[dict]:
    res = CliRunner().invoke(cli, ["search", "latency", "sample", "--space", "tiny", "--n", str(n), "--seed",
                                   str(seed), "--out", str(out), *extra])
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in (out / "archs.jsonl").read_text().splitlines()]


def test_sample_writes_export_readable_lines_seeded_and_distinct(tmp_path: Path) -> None:
    lines = _sample(tmp_path / "a")
    assert len(lines) == 12 and len({d["arch_id"] for d in lines}) == 12
    for d in lines:
        assert ArchConfig.from_dict(d).arch_id == d["arch_id"] and d["space"] == "tiny"
    (tmp_path / "one.json").write_text(json.dumps(lines[0]))  # one line saved as a file: what export reads
    assert load_arch(tmp_path / "one.json").arch_id == lines[0]["arch_id"]
    assert _sample(tmp_path / "b") == lines
    assert _sample(tmp_path / "c", seed=4) != lines
    summary = json.loads((tmp_path / "a" / "sample.json").read_text())
    assert sum(summary["per_bin"]) == 12 and min(summary["per_bin"]) > 0  # small, medium and large all present


def test_sample_exclude_gives_disjoint_sets(tmp_path: Path) -> None:
    first = {d["arch_id"] for d in _sample(tmp_path / "a", n=20)}
    second = {d["arch_id"] for d in _sample(tmp_path / "b", "--exclude", str(tmp_path / "a/archs.jsonl"), n=20)}
    assert len(second) == 20 and not first & second


def test_sample_more_than_the_space_holds_is_an_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["search", "latency", "sample", "--space", "tiny", "--n", "20000", "--out",
                                   str(tmp_path)])
    assert res.exit_code == 1 and "--n" in res.output and not (tmp_path / "archs.jsonl").exists()


def _row(space, arch, ms: float) -> dict:
    genes = space.encode(arch)
    return {"arch_id": arch.arch_id, "resolution": arch.resolution, "macs": 1000, "params": 10,
            "latency_p50_ms": ms, **{f"gene_{g}": int(v) for g, v in zip(space.gene_names, genes, strict=True)}}


def test_csv_roundtrip_append_and_reopen(tmp_path: Path) -> None:
    space = load_space("tiny")
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(3)]
    w = LatencyCsvWriter(tmp_path / "latency.csv", space.gene_names)
    w.append(_row(space, archs[0], 1.5))
    w.append({**_row(space, archs[1], 2.5), "multi_context": 1, "fps": 400.0})
    w2 = LatencyCsvWriter(tmp_path / "latency.csv", space.gene_names)  # reopen: keeps what is there
    assert w2.ids == {archs[0].arch_id, archs[1].arch_id}
    w2.append(_row(space, archs[2], 3.5))
    d = read_latency_csv(tmp_path / "latency.csv")
    assert d.arch_ids == [a.arch_id for a in archs] and list(d.latency_ms) == [1.5, 2.5, 3.5]
    assert d.genes.shape == (3, space.num_genes) and (d.genes[1] == space.encode(archs[1])).all()
    assert np.isnan(d.columns["multi_context"][0]) and d.columns["multi_context"][1] == 1
    assert not d.has_context_label
    write_latency_csv(d.subset(np.array([2, 0])), tmp_path / "sub.csv")
    assert read_latency_csv(tmp_path / "sub.csv").arch_ids == [archs[2].arch_id, archs[0].arch_id]


def test_csv_refusals(tmp_path: Path) -> None:
    tiny, cifar = load_space("tiny"), load_space("cifar")
    w = LatencyCsvWriter(tmp_path / "latency.csv", tiny.gene_names)
    w.append(_row(tiny, tiny.min_arch(), 1.0))
    with pytest.raises(LatencyError, match="another space"):
        LatencyCsvWriter(tmp_path / "latency.csv", cifar.gene_names)
    with pytest.raises(LatencyError, match="lacks"):
        w.append({**_row(tiny, tiny.max_arch(), 1.0), "latency_p50_ms": None})
    text = (tmp_path / "latency.csv").read_text()
    (tmp_path / "cut.csv").write_text(text + text.splitlines()[1][:20] + "\n")
    with pytest.raises(LatencyError, match="corrupt"):
        read_latency_csv(tmp_path / "cut.csv")
    (tmp_path / "dup.csv").write_text(text + text.splitlines()[1] + "\n")
    with pytest.raises(LatencyError, match="twice"):
        read_latency_csv(tmp_path / "dup.csv")
    with pytest.raises(LatencyError, match="does not exist"):
        read_latency_csv(tmp_path / "nope.csv")


def test_load_datasets_checks_metadata_target_and_space(tmp_path: Path) -> None:
    tiny = load_space("tiny")
    LatencyCsvWriter(tmp_path / "latency.csv", tiny.gene_names).append(_row(tiny, tiny.min_arch(), 1.0))
    write_metadata(tmp_path, {"space": "tiny", "target": "onnxruntime-cpu"})
    assert len(load_datasets([tmp_path / "latency.csv"], space="tiny", target="onnxruntime-cpu")) == 1
    with pytest.raises(LatencyError, match="hailo8l"):
        load_datasets([tmp_path / "latency.csv"], target="hailo8l")
    with pytest.raises(LatencyError, match="twice|same arch_id"):
        load_datasets([tmp_path / "latency.csv", tmp_path / "latency.csv"])
