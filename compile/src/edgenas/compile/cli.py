"""``edgenas compile``: check, hef, estimate, quantize. Loaded lazily by the root CLI."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from edgenas.compile.targets import HAILO_TARGETS, TARGETS
from edgenas.runtime.bundle import load_bundle

log = logging.getLogger(__name__)

BUNDLE = click.option("--bundle", "bundle_dir", required=True, type=click.Path(file_okay=False, path_type=Path),
                      help="Input bundle directory (holds manifest.json).")
OUT = click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path),
                   help="New bundle directory to write (must not exist).")
CALIB = click.option("--calib", type=click.IntRange(min=1), default=None,
                     help="Use the first N calibration images (default: all in the bundle).")
AS_JSON = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")


def _emit(obj: Any) -> None:
    click.echo(json.dumps(obj, indent=2))


@click.group("compile")
def compile_group() -> None:
    """Check, quantize and compile bundles for a target (Hailo DFC or ONNX Runtime)."""


@compile_group.command("check")
@BUNDLE
@click.option("--target", required=True, type=click.Choice(sorted(TARGETS)), help="Compile target.")
@AS_JSON
def check(bundle_dir: Path, target: str, as_json: bool) -> None:
    """Check an ONNX bundle for a target; exit 1 on blocking findings, 0 on OK or warnings."""
    from edgenas.compile.checks import check_bundle

    report = check_bundle(load_bundle(bundle_dir), target)
    if as_json:
        _emit(report.to_dict())
    else:
        for f in report.findings:
            click.echo(f"{f.level:7s} {f.code}: {f.message}" + (f"\n        fix: {f.fix}" if f.fix else ""))
        click.echo(f"{'OK' if report.ok else 'BLOCKED'} for {target}")
    sys.exit(0 if report.ok else 1)


@compile_group.command("hef")
@BUNDLE
@click.option("--target", required=True, type=click.Choice(list(HAILO_TARGETS)), help="Hailo chip (hw_arch).")
@OUT
@CALIB
@click.option("--optimization-level", type=click.IntRange(0, 4), default=None,
              help="DFC optimization level (default 2 with a GPU, 0 with a warning without).")
@click.option("--compression-level", type=click.IntRange(0, 5), default=0, show_default=True)
@click.option("--model-script", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=".alls lines appended after the generated normalization/optimization lines.")
@click.option("--end-node", "end_nodes", multiple=True, help="ONNX node name to end the parsed graph at (repeat).")
@click.option("--har-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also save the compiled HAR here (for `hailo profiler`).")
@AS_JSON
def hef(bundle_dir: Path, target: str, out: Path, calib: int | None, optimization_level: int | None,
        compression_level: int, model_script: Path | None, end_nodes: tuple[str, ...], har_out: Path | None,
        as_json: bool) -> None:
    """Compile an ONNX bundle to a HEF with the Hailo Dataflow Compiler; writes a new bundle."""
    from edgenas.compile.dfc import HefConfig, compile_hef

    config = HefConfig(target=target, calib=calib, optimization_level=optimization_level,
                       compression_level=compression_level,
                       model_script=str(model_script) if model_script else None, end_nodes=end_nodes,
                       har_out=str(har_out) if har_out else None)
    new = compile_hef(load_bundle(bundle_dir), out, config)
    result = {"bundle": str(new.root), "model_file": new.manifest.model_file, "latency": new.manifest.latency}
    _emit(result) if as_json else click.echo(f"wrote {new.root} ({new.manifest.model_file})")


@compile_group.command("estimate")
@BUNDLE
@AS_JSON
def estimate(bundle_dir: Path, as_json: bool) -> None:
    """Bottleneck FPS and single/multi-context of a HEF bundle (no device needed)."""
    from edgenas.compile.estimate import estimate_hef

    result = estimate_hef(load_bundle(bundle_dir))
    if as_json:
        _emit(result)
    else:
        kind = "multi-context" if result["multi_context"] else "single context"
        click.echo(f"{result['name']}: {kind}, bottleneck {result['bottleneck_fps']:.1f} FPS "
                   f"({result['hw_arch']}, from {result['source']})")


@compile_group.command("quantize")
@BUNDLE
@OUT
@CALIB
@click.option("--method", type=click.Choice(["minmax", "entropy", "percentile"]), default="minmax",
              show_default=True, help="Activation calibration method.")
@AS_JSON
def quantize(bundle_dir: Path, out: Path, calib: int | None, method: str, as_json: bool) -> None:
    """Static INT8 (QDQ) quantization with ONNX Runtime for the CPU target; writes a new bundle."""
    from edgenas.compile.quantize_ort import REPORT_FILE, QuantizeConfig, quantize_bundle

    new = quantize_bundle(load_bundle(bundle_dir), out, QuantizeConfig(calib=calib, method=method))
    report = json.loads((new.root / REPORT_FILE).read_text())
    if as_json:
        _emit({"bundle": str(new.root), **report})
    else:
        click.echo(f"wrote {new.root}: {report['size_bytes_before']} -> {report['size_bytes_after']} bytes")
