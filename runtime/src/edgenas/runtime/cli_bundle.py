"""`edgenas bundle create | inspect | validate`: wrap any ONNX image classifier, look at a bundle, check one."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import click
import numpy as np

from edgenas.runtime.bundle import (
    Bundle,
    Preprocessing,
    TensorSpec,
    check_output_dir,
    load_bundle,
    write_bundle,
)
from edgenas.runtime.errors import ConfigError, ModelError
from edgenas.runtime.provenance import provenance

log = logging.getLogger(__name__)


@click.group()
def bundle() -> None:
    """Create, inspect and validate bundles (model file + manifest.json)."""


def _probe_onnx(onnx: Path, input_size: tuple[int, int] | None) -> tuple[TensorSpec, list[TensorSpec], str]:
    """Input spec (batch 1), output specs (from a test run) and layout, read through ONNX Runtime."""
    from edgenas.runtime.backends.onnxruntime import open_session

    sess = open_session(str(onnx), threads=1)
    inputs = sess.get_inputs()
    if len(inputs) != 1:
        raise ModelError(f"{onnx} has {len(inputs)} inputs {[i.name for i in inputs]}; an image classifier has one")
    inp = inputs[0]
    if inp.type != "tensor(float)":
        raise ModelError(f"{onnx} input {inp.name!r} is {inp.type}; bundle create wraps models with a float32 input")
    dims = list(inp.shape)
    if len(dims) != 4 or 3 not in (dims[1], dims[3]):
        raise ModelError(f"{onnx} input {inp.name!r} has shape {dims}; expected a static 3-channel image input "
                         "(N, 3, H, W) or (N, H, W, 3)")
    layout = "NCHW" if dims[1] == 3 else "NHWC"
    hw = [dims[2], dims[3]] if layout == "NCHW" else [dims[1], dims[2]]
    if all(isinstance(d, int) and d > 0 for d in hw):
        if input_size is not None and tuple(input_size) != tuple(hw):
            raise ConfigError(f"--input-size {input_size[0]} {input_size[1]} disagrees with the model's fixed input "
                              f"size {hw[0]} {hw[1]}; drop --input-size or re-export the model")
        h, w = int(hw[0]), int(hw[1])
    elif input_size is None:
        raise ConfigError(f"{onnx} input {inp.name!r} has a dynamic size {dims}; pass --input-size H W")
    else:
        h, w = input_size
    if isinstance(dims[0], int) and dims[0] not in (1, -1):
        raise ModelError(f"{onnx} has a fixed batch size of {dims[0]}; re-export it with batch 1 or a dynamic batch")
    shape = (1, 3, h, w) if layout == "NCHW" else (1, h, w, 3)
    try:
        outs = sess.run(None, {inp.name: np.zeros(shape, np.float32)})
    except Exception as exc:
        raise ModelError(f"{onnx} does not run on a batch-1 input {list(shape)} ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:300]}); re-export it with a static batch-1 input") from exc
    out_specs = [TensorSpec(o.name, tuple(int(s) for s in np.shape(y))) for o, y in zip(sess.get_outputs(), outs, strict=True)]
    return TensorSpec(inp.name, shape), out_specs, layout


def _single_file(onnx: Path, tmp: Path) -> Path:
    """``onnx`` itself, or a single-file copy when its weights live in external data files.

    The torch.onnx dynamo exporter writes ``model.onnx`` + ``model.onnx.data``; a bundle holds one
    file. Merging needs the ``onnx`` package (present wherever models are exported).
    """
    import onnxruntime as ort

    try:
        ort.InferenceSession(onnx.read_bytes(), providers=["CPUExecutionProvider"])
        return onnx
    except Exception as exc:
        if "external data" not in str(exc).lower():
            raise
    try:
        import onnx as onnx_pkg
    except ImportError as exc:
        raise ConfigError(f"{onnx} keeps its weights in external data files; bundles hold one file. Re-export it "
                          "as a single file (torch.onnx.export(..., external_data=False)) or install the `onnx` "
                          "package so that bundle create can merge them") from exc
    merged = tmp / "model.onnx"
    onnx_pkg.save_model(onnx_pkg.load_model(str(onnx)), str(merged), save_as_external_data=False)
    log.info("%s keeps its weights in external data files: merged them into one file for the bundle", onnx)
    return merged


def _normalization(mean: tuple[float, ...] | None, std: tuple[float, ...] | None,
                   scale: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    mean = tuple(mean) if mean else (0.0, 0.0, 0.0)
    std = tuple(std) if std else (255.0, 255.0, 255.0) if scale != "1" else (1.0, 1.0, 1.0)
    unit = scale == "1" or (scale == "auto" and all(abs(v) <= 1 for v in (*mean, *std)))
    if unit:
        log.info("mean %s / std %s are on the 0-1 scale: multiplying by 255 (pass --norm-scale 255 to keep them)",
                 mean, std)
        mean, std = tuple(v * 255.0 for v in mean), tuple(v * 255.0 for v in std)
    return mean, std


def _read_labels(path: Path, n_out: int) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    labels = [line.strip() for line in lines]
    if "" in labels:
        raise ConfigError(f"{path} line {labels.index('') + 1} is empty; the labels file holds one class per line")
    if len(labels) != n_out:
        raise ConfigError(f"{path} names {len(labels)} classes but the model's first output has {n_out}; "
                          "use the labels file that belongs to this model")
    return labels



def create_bundle(onnx: Path, out: Path, *, input_size: tuple[int, int] | None = None,
                  mean: tuple[float, ...] | None = None, std: tuple[float, ...] | None = None,
                  norm_scale: str = "auto", color_order: str = "RGB", labels: Path | None = None,
                  name: str | None = None, resize: str = "bilinear", force: bool = False) -> Bundle:
    """Wrap an ONNX image classifier into a bundle at ``out`` (atomically; nothing is left on failure)."""
    check_output_dir(out, force)
    in_spec, out_specs, layout = _probe_onnx(onnx, input_size)
    mean_px, std_px = _normalization(mean, std, norm_scale)
    h, w = (in_spec.shape[2], in_spec.shape[3]) if layout == "NCHW" else (in_spec.shape[1], in_spec.shape[2])
    pre = Preprocessing(size_hw=(h, w), mean_pixel=mean_px, std_pixel=std_px,  # type: ignore[arg-type]
                        color_order=color_order, layout=layout, resize=resize)
    n_out = out_specs[0].shape[-1] if out_specs[0].shape else 0
    classes = _read_labels(labels, n_out) if labels else []
    config = {"onnx": str(onnx), "input_size": input_size, "mean": mean, "std": std, "norm_scale": norm_scale,
              "color_order": color_order, "labels": str(labels) if labels else None, "resize": resize}
    with tempfile.TemporaryDirectory(prefix="edgenas-bundle-") as tmp:
        files: dict[str, tuple[str, Any]] = {"model.onnx": ("model", _single_file(onnx, Path(tmp)))}
        if labels:
            files["labels.txt"] = ("labels", labels)
        b = write_bundle(out, name=name or onnx.stem, model_file="model.onnx", model_format="onnx", files=files,
                         inputs=[in_spec], outputs=out_specs, preprocessing=pre, classes=classes,
                         provenance=provenance("bundle-create", config=config), overwrite=force)
    log.info("wrote bundle %s (input %s %s)", out, in_spec.name, list(in_spec.shape))
    return b


@bundle.command("create")
@click.option("--onnx", "onnx", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="ONNX image classifier (one float32 image input).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Bundle directory to write.")
@click.option("--input-size", nargs=2, type=click.IntRange(min=1), default=None, metavar="H W",
              help="Input size; required when the model's H/W are dynamic.")
@click.option("--mean", nargs=3, type=float, default=None, metavar="R G B",
              help="Per-channel mean, 0-255 pixel scale (0-1 values are scaled, see --norm-scale). Default 0.")
@click.option("--std", nargs=3, type=click.FloatRange(min=0, min_open=True), default=None, metavar="R G B",
              help="Per-channel std, 0-255 pixel scale. Default 255 (inputs in [0, 1]).")
@click.option("--norm-scale", type=click.Choice(["auto", "255", "1"]), default="auto", show_default=True,
              help="Scale of --mean/--std: auto = 0-1 when every value is <= 1, else 0-255.")
@click.option("--color-order", type=click.Choice(["RGB", "BGR"]), default="RGB", show_default=True,
              help="Channel order the model expects.")
@click.option("--resize", type=click.Choice(["bilinear", "nearest", "area", "bicubic"]), default="bilinear",
              show_default=True, help="Interpolation used to resize frames to the input size.")
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Text file, one class name per line; the count must match the output.")
@click.option("--name", default=None, help="Bundle name (default: the ONNX file name).")
@click.option("--force", is_flag=True, help="Replace --out if it already holds a bundle.")
def create_cmd(onnx: Path, out: Path, input_size: tuple[int, int] | None, mean: tuple[float, ...] | None,
               std: tuple[float, ...] | None, norm_scale: str, color_order: str, resize: str, labels: Path | None,
               name: str | None, force: bool) -> None:
    """Wrap an ONNX image classifier (such as MobileNetV2) into a bundle."""
    b = create_bundle(onnx, out, input_size=input_size or None, mean=mean or None, std=std or None,
                      norm_scale=norm_scale, color_order=color_order, labels=labels, name=name, resize=resize,
                      force=force)
    click.echo(f"created bundle {b.root} ({b.manifest.name}, input {list(b.manifest.inputs[0].shape)})")


def summary(b: Bundle) -> dict[str, Any]:
    m = b.manifest
    prov = m.provenance or {}
    return {
        "path": str(b.root), "name": m.name, "schema_version": m.schema_version, "model_file": m.model_file,
        "model_format": m.model_format, "manifest_sha256": b.manifest_sha256,
        "inputs": [t.to_dict() for t in m.inputs], "outputs": [t.to_dict() for t in m.outputs],
        "preprocessing": m.preprocessing.to_dict(), "num_classes": len(m.classes), "classes_head": list(m.classes[:5]),
        "artifacts": [a.to_dict() for a in m.artifacts], "latency": m.latency, "parent": m.parent,
        "architecture": m.architecture, "created_by": {k: prov.get(k) for k in ("stage", "created_utc", "git_revision")},
    }


@bundle.command("inspect")
@click.argument("bundle_dir", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def inspect_cmd(bundle_dir: Path, as_json: bool) -> None:
    """Print a bundle's manifest summary (hashes are not checked here: use `validate`)."""
    s = summary(load_bundle(bundle_dir, verify_hashes=False))
    if as_json:
        click.echo(json.dumps(s))
        return
    pre = s["preprocessing"]
    rows = [("name", s["name"]), ("schema", s["schema_version"]), ("model", f"{s['model_file']} ({s['model_format']})"),
            ("inputs", ", ".join(f"{t['name']} {t['shape']} {t['dtype']}" for t in s["inputs"])),
            ("outputs", ", ".join(f"{t['name']} {t['shape']}" for t in s["outputs"])),
            ("preprocess", f"{pre['color_order']} {pre['layout']} {pre['size_hw']} {pre['resize']}, "
                           f"mean {pre['mean_pixel']}, std {pre['std_pixel']} (0-255 scale)"),
            ("classes", f"{s['num_classes']} {s['classes_head']}" if s["num_classes"] else "none"),
            ("artifacts", ", ".join(f"{a['path']} [{a['role']}, {a['size_bytes']} B]" for a in s["artifacts"])),
            ("latency", json.dumps(s["latency"]) if s["latency"] else "none"),
            ("parent", json.dumps(s["parent"]) if s["parent"] else "none"),
            ("created", json.dumps(s["created_by"]))]
    for k, v in rows:
        click.echo(f"{k:<11}{v}")


def validate_bundle(bundle_dir: Path) -> str:
    """Structure, paths, hashes, and the model opens and matches the manifest; returns what was checked."""
    b = load_bundle(bundle_dir, verify_hashes=True)
    if b.manifest.model_format == "onnx":
        from edgenas.runtime.backends.onnxruntime import OrtBackend

        with OrtBackend(b, threads=1) as be:
            outs = be.infer(be.example_input())
        for spec, y in zip(b.manifest.outputs, outs, strict=True):
            if tuple(y.shape) != tuple(spec.shape):
                raise ModelError(f"the model's output {spec.name!r} has shape {list(y.shape)}, the manifest says "
                                 f"{list(spec.shape)}; re-create the bundle")
        return "structure, hashes, model opened and run on ONNX Runtime"
    from edgenas.runtime.backends.hailort import check_hef_offline

    return check_hef_offline(b)


@bundle.command("validate")
@click.argument("bundle_dir", type=click.Path(path_type=Path))
def validate_cmd(bundle_dir: Path) -> None:
    """Exit 0 and print "valid" when the bundle is sound; exit 1 with the reason when not."""
    checked = validate_bundle(bundle_dir)
    click.echo(f"valid: {bundle_dir} ({checked})")
