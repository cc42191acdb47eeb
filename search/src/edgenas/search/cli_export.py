"""``edgenas search export``: one architecture -> a bundle (ONNX + manifest + calibration sample)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click

from edgenas.runtime.bundle import check_output_dir
from edgenas.runtime.errors import ConfigError
from edgenas.search.arch import ArchConfig, read_arch_json
from edgenas.search.spaces import SearchSpace, load_space

log = logging.getLogger(__name__)



def _read_arch(space: SearchSpace, path: Path) -> ArchConfig:
    raw = read_arch_json(path)
    if raw.get("space") not in (None, space.name):
        raise ConfigError(f"{path} is an architecture of space {raw['space']!r}, not {space.name!r}; "
                          f"pass --space {raw['space']}")
    arch = ArchConfig.from_dict(raw)
    space.validate(arch)
    return arch


def _load_data(name: str, arch: ArchConfig, root: str | None, calib_images: int, seed: int) -> tuple[Any, Any]:
    from edgenas.search.data import load_dataset, raw_images

    info = load_dataset(name, split="train", resolution=arch.resolution, root=root, augment=False)
    images = None
    if calib_images > 0:
        images = raw_images(info, min(calib_images, len(info.dataset)), seed)  # type: ignore[arg-type]
    return info, images


@click.command("export")
@click.option("--space", required=True, help="Search space: alphanet, cifar, tiny, or a YAML file.")
@click.option("--arch", "arch_path", required=True, type=click.Path(path_type=Path),
              help="Architecture JSON, in our format or AlphaNet's (resolution/width/depth/kernel_size/expand_ratio).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Bundle directory to create.")
@click.option("--weights", type=click.Path(path_type=Path),
              help="An edgenas supernet.pt or the official alphanet_pretrained.pth.tar. Default: random init.")
@click.option("--recalibrate/--no-recalibrate", default=None,
              help="Re-estimate BN statistics on training images of --dataset. Default: on when --dataset is given.")
@click.option("--dataset", help="digits, cifar10, cifar100 or imagefolder:PATH: BN recalibration, class names, "
              "normalization and the calibration sample.")
@click.option("--data-root", help="Where data sets are (or are downloaded to).")
@click.option("--num-classes", type=click.IntRange(min=1), help="Output classes (default: data set, checkpoint, space).")
@click.option("--calib-images", type=click.IntRange(min=0), default=64, show_default=True,
              help="Training images stored in the bundle for quantization (needs --dataset; 0: none).")
@click.option("--calib-batches", type=click.IntRange(min=1), default=32, show_default=True,
              help="Batches for BN recalibration.")
@click.option("--batch-size", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--opset", type=click.IntRange(min=11), default=11, show_default=True,
              help="ONNX opset (11 is what the Hailo DFC accepts).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--force", is_flag=True, help="Replace --out if it already holds a bundle.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")
def export(space: str, arch_path: Path, out: Path, weights: Path | None, recalibrate: bool | None,
           dataset: str | None, data_root: str | None, num_classes: int | None, calib_images: int,
           calib_batches: int, batch_size: int, opset: int, seed: int, force: bool, as_json: bool) -> None:
    """Export one architecture as a bundle (ONNX + manifest)."""
    sp = load_space(space)
    arch = _read_arch(sp, arch_path)
    check_output_dir(out, force)
    if weights is not None and not weights.is_file():
        raise ConfigError(f"--weights {weights} does not exist; pass an edgenas supernet.pt or the AlphaNet file")
    if recalibrate and dataset is None:
        raise ConfigError("--recalibrate needs training images: pass --dataset (or use --no-recalibrate)")
    info, images = _load_data(dataset, arch, data_root, calib_images, seed) if dataset else (None, None)
    if info is not None and num_classes is not None and num_classes != info.num_classes:
        raise ConfigError(f"--num-classes {num_classes} but {dataset} has {info.num_classes} classes")
    from edgenas.search.export import export_bundle

    b = export_bundle(sp, arch, out, weights=weights, num_classes=num_classes or (info.num_classes if info else None),
                      dataset=info, recalibrate=bool(recalibrate if recalibrate is not None else info),
                      calib_batches=calib_batches, calib_batch_size=batch_size, calibration_images=images,
                      opset=opset, seed=seed, overwrite=force)
    a = b.manifest.architecture or {}
    log.info("wrote bundle %s: %s, %.2f M MACs, %.3f M params", b.root, a.get("arch_id"), a.get("macs", 0) / 1e6,
             a.get("params", 0) / 1e6)
    if as_json:
        click.echo(json.dumps({"bundle": str(b.root), "name": b.manifest.name, **a}))
