"""A larger, harder evaluation set from a small one: ``copies`` fixed, seeded distortions of every image.

Each copy of each image gets one random affine warp (rotation, shift, scale; bilinear, fill 0) and
additive Gaussian pixel noise (the same on every channel, so grey images stay grey). The draws
depend only on ``seed``, the copy number and the image's position, so two calls give identical
pixels. Meant for ranking models on a small validation set (e.g. digits' 360 images): more
evaluations, and accuracies that spread out instead of bunching near 100 %. It measures accuracy
under distortion, which is related to but not the same as clean accuracy; report both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torchvision.transforms import v2

from edgenas.search.data import DataError, DatasetInfo, ImageDataset, _ArrayFetch, _identity, _root_dataset


@dataclass(frozen=True)
class Distortion:
    """Ranges of the per-image draws: uniform in ±``degrees``, ±``translate`` × side, ``scale``."""

    degrees: float = 15.0
    translate: float = 0.1
    scale: tuple[float, float] = (0.85, 1.15)
    noise_std: float = 24.0  # pixel units on the 0-255 scale

    def __post_init__(self) -> None:
        lo, hi = self.scale
        if self.degrees < 0 or not 0 <= self.translate < 0.5 or not 0 < lo <= hi or self.noise_std < 0:
            raise DataError(f"bad distortion {self}: need degrees >= 0, 0 <= translate < 0.5, "
                            "0 < scale[0] <= scale[1], noise_std >= 0")


def _distort(image: torch.Tensor, rng: np.random.Generator, d: Distortion) -> torch.Tensor:
    """One draw for one uint8 CHW image."""
    side = image.shape[-1]
    angle = float(rng.uniform(-d.degrees, d.degrees))
    shift = [int(round(v)) for v in rng.uniform(-d.translate * side, d.translate * side, 2)]
    scale = float(rng.uniform(*d.scale))
    warped = v2.functional.affine(image.float(), angle=angle, translate=shift, scale=scale, shear=[0.0, 0.0],
                                  interpolation=v2.InterpolationMode.BILINEAR, fill=0.0)
    noise = torch.from_numpy(rng.normal(0.0, d.noise_std, (1, *image.shape[-2:])).astype(np.float32))
    return (warped + noise).round().clamp(0, 255).to(torch.uint8)


def distorted_copies(info: DatasetInfo, copies: int, seed: int, distortion: Distortion | None = None) -> DatasetInfo:
    """``copies`` × len(info) distorted images (copy-major), same labels, normalization and resolution.

    ``info`` is an evaluation set from ``load_dataset`` (its augmentation, if any, is not used).
    """
    if copies < 1:
        raise DataError(f"copies must be >= 1, got {copies}")
    d = distortion or Distortion()
    base, indices = _root_dataset(info.dataset)
    raw = [base.raw(i) for i in indices]
    labels = [base.targets[i] for i in indices] * copies
    images: list[torch.Tensor] = []
    for k in range(copies):
        rng = np.random.default_rng([seed, k])
        images.extend(_distort(x, rng, d) for x in raw)
    ds = ImageDataset(_ArrayFetch(torch.stack(images), labels), labels, _identity, None, info.mean_pixel,
                      info.std_pixel)
    return DatasetInfo(ds, info.classes, info.mean_pixel, info.std_pixel, f"{info.name}+distorted{copies}",
                       info.resolution)
