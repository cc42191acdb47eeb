"""`edgenas bench`: a bundle's model latency at batch 1 (see edgenas.runtime.bench for what is timed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from edgenas.runtime._io import atomic_write_json
from edgenas.runtime.backends import open_backend
from edgenas.runtime.bench import measure_latency
from edgenas.runtime.bundle import load_bundle

ROWS = (("p50", "p50_ms"), ("p90", "p90_ms"), ("p99", "p99_ms"), ("mean", "mean_ms"), ("std", "std_ms"),
        ("min", "min_ms"), ("max", "max_ms"))


def format_table(r: dict[str, Any]) -> str:
    info = r["backend_info"]
    settings = ", ".join(f"{k}={info[k]}" for k in ("threads", "timeout_ms") if k in info)
    lines = [f"bundle   {r['bundle']['name']} ({r['bundle']['path']})",
             f"backend  {r['backend']} on {r['device']}" + (f" ({settings})" if settings else ""),
             f"input    {r['input_shape']} {r['input_dtype']}, batch 1, {r['runs']} runs after {r['warmup']} warm-up",
             *(f"{label:<8} {r[key]:10.3f} ms" for label, key in ROWS),
             f"fps      {r['fps']:10.1f}    ({r['fps_basis']})",
             "versions " + ", ".join(f"{k} {v}" for k, v in r["versions"].items())]
    return "\n".join(lines)


@click.command()
@click.option("--bundle", "bundle_dir", required=True, type=click.Path(path_type=Path), help="Bundle directory.")
@click.option("--runs", type=click.IntRange(min=1), default=100, show_default=True, help="Timed runs.")
@click.option("--warmup", type=click.IntRange(min=0), default=10, show_default=True, help="Untimed runs first.")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="ONNX Runtime intra-op threads (default: ONNX Runtime's choice).")
@click.option("--backend", type=click.Choice(["auto", "onnxruntime", "hailort"]), default="auto", show_default=True,
              help="auto: hailort for HEF bundles, onnxruntime for ONNX.")
@click.option("--device-id", default=None, help="HailoRT device id (default: the first free device).")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON object on stdout.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the JSON here.")
def bench(bundle_dir: Path, runs: int, warmup: int, threads: int | None, backend: str, device_id: str | None,
          as_json: bool, out: Path | None) -> None:
    """Measure a bundle's model latency at batch 1: p50/p90/p99/mean/std in ms and FPS."""
    bundle = load_bundle(bundle_dir)
    name = backend if backend != "auto" else ("hailort" if bundle.manifest.model_format == "hef" else "onnxruntime")
    options: dict[str, Any] = {}
    if threads is not None:
        if name != "onnxruntime":
            raise click.UsageError("--threads applies to the onnxruntime backend only")
        options["threads"] = threads
    if device_id is not None:
        if name != "hailort":
            raise click.UsageError("--device-id applies to the hailort backend only")
        options["device_id"] = device_id
    with open_backend(bundle, name, **options) as be:
        result = measure_latency(be, runs=runs, warmup=warmup)
    if out is not None:
        atomic_write_json(out, result)
    click.echo(json.dumps(result) if as_json else format_table(result))
