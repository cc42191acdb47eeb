"""``edgenas search latency``: sample architectures, measure them on a target, build the block LUT,
export bundles for the device flow and collect device results. See docs/search-latency.md."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from edgenas.search.latency.targets import TARGETS

log = logging.getLogger(__name__)


def _space(name: str) -> Any:
    from edgenas.search.spaces import load_space

    return load_space(name)


def _archs(paths: tuple[str, ...], space: Any) -> list[tuple[str, Any]]:
    from edgenas.search.latency.sample import read_archs_jsonl

    out, seen = [], set()
    for p in paths:
        for aid, arch in read_archs_jsonl(p):
            space.validate(arch)
            if aid not in seen:
                seen.add(aid)
                out.append((aid, arch))
    return out


def _echo(obj: dict[str, Any]) -> None:
    click.echo(json.dumps(obj, sort_keys=True))


@click.group()
def latency() -> None:
    """Latency data sets: sample, measure, lut, export, collect."""


@latency.command()
@click.option("--space", "space_name", required=True, help="Search space name (alphanet, cifar, tiny) or YAML path.")
@click.option("--n", type=click.IntRange(min=1), required=True, help="Number of architectures.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Output directory (gets archs.jsonl).")
@click.option("--bins", type=click.IntRange(min=1), default=5, show_default=True, help="Log-MACs strata.")
@click.option("--exclude", multiple=True, type=click.Path(dir_okay=False),
              help="archs.jsonl whose architectures must not be drawn (e.g. the training set). Repeatable.")
@click.option("--resolution", type=int, default=None, help="Fix the input resolution (one of the space's).")
def sample(space_name: str, n: int, seed: int, out: str, bins: int, exclude: tuple[str, ...],
           resolution: int | None) -> None:
    """Draw N distinct architectures, stratified over MACs, into OUT/archs.jsonl."""
    from edgenas.runtime._io import atomic_write_json
    from edgenas.search.latency.sample import read_archs_jsonl, sample_archs, write_archs_jsonl

    space = _space(space_name)
    if resolution is not None:
        space = _fixed_resolution(space, resolution)
    excluded = [aid for p in exclude for aid, _ in read_archs_jsonl(p)]
    archs, summary = sample_archs(space, n, seed, num_classes=space.num_classes, bins=bins, exclude=excluded)
    write_archs_jsonl(Path(out) / "archs.jsonl", space_name, archs)
    atomic_write_json(Path(out) / "sample.json", {**summary, "space": space_name, "resolution": resolution})
    _echo({"archs": str(Path(out) / "archs.jsonl"), **summary})


def _fixed_resolution(space: Any, resolution: int) -> Any:
    import dataclasses

    from edgenas.runtime.errors import ConfigError

    if resolution not in space.resolutions:
        raise ConfigError(f"--resolution {resolution} is not one of the space's {list(space.resolutions)}")
    return dataclasses.replace(space, resolutions=(resolution,))


@latency.command()
@click.option("--archs", "archs_files", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="archs.jsonl (from `sample`); repeatable.")
@click.option("--space", "space_name", required=True)
@click.option("--target", type=click.Choice(sorted(TARGETS)), default="onnxruntime-cpu", show_default=True)
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="Output directory: latency.csv + metadata.json. Rerunning resumes.")
@click.option("--runs", type=click.IntRange(min=1), default=50, show_default=True, help="Timed runs per arch.")
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True, help="Untimed runs first.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="ONNX Runtime intra-op threads (onnxruntime-cpu).")
@click.option("--bundles", type=click.Path(file_okay=False), default=None,
              help="Compiled HEF bundles, one per arch_id (hailo8l, hailo8, hailo8l-estimate).")
@click.option("--replay-csv", type=click.Path(dir_okay=False), default=None, help="Recorded latency.csv (replay).")
@click.option("--num-classes", type=int, default=None, help="Classifier width (default: the space's).")
@click.option("--reference", type=click.Choice(["mid", "none"]), default="mid", show_default=True,
              help="onnxruntime-cpu: time a fixed reference network (every gene at the middle of its range) in "
                   "every rotation and record latency_ratio = p50 / the reference's p50 (machine-wide speed "
                   "changes cancel out of it). none: p50 only.")
@click.option("--group", type=click.IntRange(min=1), default=16, show_default=True,
              help="onnxruntime-cpu: architectures measured together, round-robin (1: one at a time).")
@click.option("--block", type=click.IntRange(min=1), default=10, show_default=True,
              help="onnxruntime-cpu: timed runs per visit of the rotation (after one untimed run).")
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True,
              help="onnxruntime-cpu with the reference: measure a group again (at most this often) when the "
                   "reference ran > 10 % slower than in the quietest group so far (the machine was busy).")
def measure(archs_files: tuple[str, ...], space_name: str, target: str, out: str, runs: int, warmup: int,
            threads: int, bundles: str | None, replay_csv: str | None, num_classes: int | None,
            reference: str, group: int, block: int, retries: int) -> None:
    """Measure architectures on TARGET into OUT/latency.csv (resumable)."""
    from edgenas.search.latency.measure import measure_archs
    from edgenas.search.latency.targets import make_target

    space = _space(space_name)
    opts: dict[str, Any] = {}
    if target == "onnxruntime-cpu":
        opts = {"runs": runs, "warmup": warmup, "threads": threads, "group": group, "block": block,
                "reference": None if reference == "none" else reference, "retries": retries}
    elif target in ("hailo8l", "hailo8"):
        opts = {"runs": runs, "warmup": warmup}
    elif target == "replay":
        opts = {"csv": replay_csv}
    tgt = make_target(target, **opts)
    summary = measure_archs(_archs(archs_files, space), space, tgt, out,
                            num_classes=num_classes or space.num_classes, bundles=bundles)
    _echo(summary)


@latency.command()
@click.option("--archs", "archs_files", multiple=True, required=True, type=click.Path(dir_okay=False))
@click.option("--space", "space_name", required=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="LUT JSON file (extended if present).")
@click.option("--runs", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--num-classes", type=int, default=None)
def lut(archs_files: tuple[str, ...], space_name: str, out: str, runs: int, warmup: int, threads: int,
        num_classes: int | None) -> None:
    """Build the per-block lookup table (onnxruntime-cpu) for every block of the given architectures."""
    from edgenas.search.latency.blocks import build_lut

    space = _space(space_name)
    summary = build_lut(space, [a for _, a in _archs(archs_files, space)], out, target="onnxruntime-cpu",
                        num_classes=num_classes or space.num_classes, threads=threads, runs=runs, warmup=warmup)
    _echo(summary)


@latency.command("export")
@click.option("--archs", "archs_files", multiple=True, required=True, type=click.Path(dir_okay=False))
@click.option("--space", "space_name", required=True)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="One bundle per arch: OUT/<arch_id>/")
@click.option("--num-classes", type=int, default=None)
@click.option("--calib", type=click.IntRange(min=0), default=64, show_default=True,
              help="Random uint8 calibration images per bundle (`edgenas compile hef` needs some; 0: none).")
def export_archs(archs_files: tuple[str, ...], space_name: str, out: str, num_classes: int | None,
                 calib: int) -> None:
    """Export each architecture (untrained weights) as an ONNX bundle, for compiling and device benches."""
    from edgenas.search.latency.measure import export_for_latency

    space = _space(space_name)
    done = skipped = 0
    for aid, arch in _archs(archs_files, space):
        if (Path(out) / aid / "manifest.json").is_file():
            skipped += 1
            continue
        export_for_latency(space, arch, Path(out) / aid, num_classes or space.num_classes, calib)
        done += 1
    _echo({"exported": done, "skipped": skipped, "out": out})


@latency.command()
@click.option("--archs", "archs_files", multiple=True, required=True, type=click.Path(dir_okay=False))
@click.option("--space", "space_name", required=True)
@click.option("--target", type=click.Choice(["hailo8l", "hailo8", "onnxruntime-cpu"]), required=True,
              help="The target the bench JSONs were measured on.")
@click.option("--bench", "bench_dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="Directory of BENCH/<arch_id>.json files from `edgenas bench --json`.")
@click.option("--compiled", type=click.Path(file_okay=False, exists=True), default=None,
              help="Compiled HEF bundles COMPILED/<arch_id>/: adds the multi_context label (needs hailo_platform).")
@click.option("--out", type=click.Path(file_okay=False), required=True)
@click.option("--num-classes", type=int, default=None)
def collect(archs_files: tuple[str, ...], space_name: str, target: str, bench_dir: str, compiled: str | None,
            out: str, num_classes: int | None) -> None:
    """Merge device bench JSONs into OUT/latency.csv (architectures without a JSON are listed and skipped)."""
    from edgenas.search.latency.collect import BenchJsonTarget
    from edgenas.search.latency.measure import measure_archs

    space = _space(space_name)
    tgt = BenchJsonTarget(target, bench_dir=bench_dir, compiled=compiled)
    archs = _archs(archs_files, space)
    have = [(aid, a) for aid, a in archs if tgt.path(aid).is_file()]
    if len(have) < len(archs):
        log.warning("%d of %d architectures have no bench JSON in %s yet; they are skipped",
                    len(archs) - len(have), len(archs), bench_dir)
    summary = measure_archs(have, space, tgt, out, num_classes=num_classes or space.num_classes)
    _echo({**summary, "missing": len(archs) - len(have)})
