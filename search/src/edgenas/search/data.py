"""Data sets for supernet training, scoring and export: digits, CIFAR-10/100, ImageFolder.

Every data set yields ``(normalized float CHW tensor, int label)`` at the requested resolution and
exposes ``targets`` (labels) and ``raw(i)`` (the un-normalized uint8 CHW image, no augmentation).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, Subset
from torchvision.transforms import v2

from edgenas.runtime.errors import EdgeNasError

# Normalization constants, RGB, 0-255 scale.
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)
CIFAR_STATS = {
    "cifar10": ((125.307, 122.950, 113.865), (62.993, 62.089, 66.705)),
    "cifar100": ((129.304, 124.070, 112.434), (68.170, 65.392, 70.418)),
}
VAL_FRACTION = 0.2  # held-out share when a data set has no validation split of its own
SPLIT_SEED = 0
SPLITS = ("train", "val")


class DataError(EdgeNasError):
    """A data set cannot be found, downloaded or read, or a subset request is impossible."""


@dataclass(frozen=True)
class DatasetInfo:
    dataset: Dataset[Any]
    classes: list[str]
    mean_pixel: tuple[float, float, float]
    std_pixel: tuple[float, float, float]
    name: str
    resolution: int

    @property
    def num_classes(self) -> int:
        return len(self.classes)


class ImageDataset(Dataset[tuple[torch.Tensor, int]]):
    """Items come from ``fetch(i) -> (PIL image or uint8 CHW tensor, label)``.

    ``base`` maps a fetched image to a uint8 CHW tensor at the resolution (the evaluation view);
    ``augment`` (optional) replaces it during training. Normalization is applied last.
    """

    def __init__(self, fetch: Callable[[int], tuple[Any, int]], targets: Sequence[int],
                 base: Callable[[Any], torch.Tensor], augment: Callable[[Any], torch.Tensor] | None,
                 mean: Sequence[float], std: Sequence[float]) -> None:
        self.fetch, self.targets = fetch, [int(t) for t in targets]
        self.base, self.augment = base, augment
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

    def __len__(self) -> int:
        return len(self.targets)

    def raw(self, index: int) -> torch.Tensor:
        image, _ = self.fetch(index)
        return self.base(image)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.fetch(index)
        pixels = (self.augment or self.base)(image)
        return (pixels.float() - self.mean) / self.std, label


class _ArrayFetch:
    def __init__(self, images: torch.Tensor, labels: Sequence[int]) -> None:
        self.images, self.labels = images, [int(t) for t in labels]

    def __call__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.images[index], self.labels[index]


class _FolderFetch:
    def __init__(self, samples: list[tuple[str, int]], loader: Callable[[str], Any]) -> None:
        self.samples, self.loader = samples, loader

    def __call__(self, index: int) -> tuple[Any, int]:
        path, label = self.samples[index]
        return self.loader(path), label


def _identity(image: torch.Tensor) -> torch.Tensor:
    return image


def _uint8(size: int | Sequence[int] | None = None, crop: int | None = None) -> Callable[[Any], torch.Tensor]:
    steps: list[Any] = [v2.ToImage(), v2.RGB()]
    if size is not None:
        steps.append(v2.Resize(size, antialias=True))
    if crop is not None:
        steps.append(v2.CenterCrop(crop))
    steps.append(v2.ToDtype(torch.uint8, scale=True))
    return v2.Compose(steps)


def _array_dataset(images: torch.Tensor, labels: Sequence[int], mean: Sequence[float],
                   std: Sequence[float], augment: bool, flip: bool) -> ImageDataset:
    """Images already at the resolution, uint8 NCHW: cheap tensor-only transforms."""
    res = int(images.shape[-1])
    aug = None
    if augment:
        steps: list[Any] = [v2.RandomCrop(res, padding=max(1, res // 8), padding_mode="edge")]
        if flip:
            steps.append(v2.RandomHorizontalFlip())
        aug = v2.Compose(steps)
    return ImageDataset(_ArrayFetch(images, labels), labels, _identity, aug, mean, std)


def _split_indices(targets: Sequence[int], split: str) -> np.ndarray:
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(targets))
    train, val = train_test_split(idx, test_size=VAL_FRACTION, random_state=SPLIT_SEED, stratify=list(targets))
    return np.sort(train if split == "train" else val)


def _load_digits(split: str, resolution: int, root: str | None, augment: bool) -> DatasetInfo:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    grey = torch.from_numpy(bunch.images.astype(np.float32) * (255.0 / 16.0))[:, None]
    up = torch.nn.functional.interpolate(grey, size=(resolution, resolution), mode="bilinear",
                                         align_corners=False)
    images = up.round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = [int(t) for t in bunch.target]
    train_idx = _split_indices(labels, "train")
    stats = images[torch.from_numpy(train_idx)].float()
    mean, std = float(stats.mean()), float(stats.std())
    idx = torch.from_numpy(train_idx if split == "train" else _split_indices(labels, "val"))
    ds = _array_dataset(images[idx], [labels[i] for i in idx.tolist()], (mean,) * 3, (std,) * 3,
                        augment, flip=False)
    return DatasetInfo(ds, [str(c) for c in bunch.target_names], (mean,) * 3, (std,) * 3, "digits", resolution)


def default_root(root: str | None) -> Path:
    """``root``, else $EDGENAS_DATA_ROOT, else ~/.cache/edgenas/data."""
    if root:
        return Path(root).expanduser()
    return Path(os.environ.get("EDGENAS_DATA_ROOT") or Path.home() / ".cache" / "edgenas" / "data")


def _load_cifar(name: str, split: str, resolution: int, root: str | None, augment: bool) -> DatasetInfo:
    from torchvision import datasets

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    where = default_root(root)
    try:
        tv = cls(str(where), train=split == "train", download=False)
    except RuntimeError:
        try:
            tv = cls(str(where), train=split == "train", download=True)
        except Exception as exc:  # network errors come in many types
            raise DataError(
                f"{name} is not in {where} and could not be downloaded ({type(exc).__name__}: {exc}); "
                f"download it on a machine with internet (torchvision.datasets.{cls.__name__}(ROOT, "
                f"download=True)) and pass --data-root ROOT") from exc
    images = torch.from_numpy(np.ascontiguousarray(tv.data)).permute(0, 3, 1, 2)
    if resolution != images.shape[-1]:
        images = v2.functional.resize(images, [resolution, resolution], antialias=True)
    mean, std = CIFAR_STATS[name]
    ds = _array_dataset(images.contiguous(), list(tv.targets), mean, std, augment, flip=True)
    return DatasetInfo(ds, list(tv.classes), mean, std, name, resolution)


def _image_folder(path: Path) -> Any:
    from torchvision import datasets

    if not path.is_dir():
        raise DataError(f"image folder {path} does not exist or is not a directory; "
                        "pass imagefolder:PATH with one sub-folder per class (or PATH/train and PATH/val)")
    try:
        return datasets.ImageFolder(str(path))
    except (FileNotFoundError, RuntimeError) as exc:
        raise DataError(f"image folder {path}: {exc}; every class folder needs at least one image "
                        "(remove empty class folders)") from exc


def _load_imagefolder(spec: str, split: str, resolution: int, root: str | None,
                      augment: bool) -> DatasetInfo:
    path = Path(spec.split(":", 1)[1]).expanduser()
    if not path.is_dir():
        raise DataError(f"image folder {path} does not exist; pass imagefolder:PATH with one sub-folder "
                        "per class, or PATH/train and PATH/val")
    if (path / "train").is_dir() and (path / "val").is_dir():
        folders = {s: _image_folder(path / s) for s in SPLITS}
        if folders["train"].classes != folders["val"].classes:
            raise DataError(f"{path}/train and {path}/val have different class folders "
                            f"({folders['train'].classes} vs {folders['val'].classes}); make them the same")
        folder = folders[split]
        idx = np.arange(len(folder.samples))
    else:
        folder = _image_folder(path)
        idx = _split_indices(folder.targets, split)
    samples = [folder.samples[i] for i in idx]
    base = _uint8(int(round(resolution * 256 / 224)), resolution)
    aug = v2.Compose([v2.ToImage(), v2.RGB(), v2.RandomResizedCrop(resolution, antialias=True),
                      v2.RandomHorizontalFlip(), v2.ToDtype(torch.uint8, scale=True)]) if augment else None
    ds = ImageDataset(_FolderFetch(samples, folder.loader), [s[1] for s in samples], base, aug,
                      IMAGENET_MEAN, IMAGENET_STD)
    return DatasetInfo(ds, list(folder.classes), IMAGENET_MEAN, IMAGENET_STD, f"imagefolder:{path}", resolution)


DATASETS: dict[str, Callable[..., DatasetInfo]] = {
    "digits": _load_digits,
    "cifar10": lambda *a: _load_cifar("cifar10", *a),
    "cifar100": lambda *a: _load_cifar("cifar100", *a),
}


def load_dataset(name: str, split: str = "train", resolution: int = 32, root: str | None = None,
                 augment: bool = False) -> DatasetInfo:
    """Load ``digits``, ``cifar10``, ``cifar100`` or ``imagefolder:PATH`` at ``resolution`` pixels."""
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
    if resolution < 8:
        raise DataError(f"resolution {resolution} is too small; use at least 8 pixels")
    if name.startswith("imagefolder:"):
        return _load_imagefolder(name, split, resolution, root, augment)
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; use one of {', '.join(DATASETS)} or imagefolder:PATH")
    return DATASETS[name](split, resolution, root, augment)


def targets_of(dataset: Dataset[Any]) -> list[int]:
    """Labels of a data set (ours, a torchvision one, or a Subset of either)."""
    if isinstance(dataset, Subset):
        parent = targets_of(dataset.dataset)
        return [parent[i] for i in dataset.indices]
    targets = getattr(dataset, "targets", None)
    if targets is None:
        return [int(dataset[i][1]) for i in range(len(dataset))]  # type: ignore[arg-type]
    return [int(t) for t in targets]


def _subset_size(size: int | float, total: int) -> int:
    """An int is a count; a float is a fraction in (0, 1]."""
    if isinstance(size, float):
        if not 0.0 < size <= 1.0:
            raise DataError(f"subset fraction {size} must be in (0, 1]; pass an int for a count")
        return max(1, int(round(size * total)))
    n = int(size)
    if not 0 < n <= total:
        raise DataError(f"subset size {n} must be between 1 and the data set size {total}")
    return n


def subset(dataset: Dataset[Any], size: int | float, seed: int, balanced: bool = True) -> Subset[Any]:
    """A seeded subset of ``size`` items (a count, or a fraction in (0, 1]), class-balanced by default."""
    targets = np.asarray(targets_of(dataset))
    n = _subset_size(size, len(targets))
    rng = np.random.default_rng(seed)
    if not balanced:
        return Subset(dataset, sorted(rng.choice(len(targets), n, replace=False).tolist()))
    pools = {int(c): rng.permutation(np.flatnonzero(targets == c)) for c in np.unique(targets)}
    quota = dict.fromkeys(pools, 0)
    remaining = n
    while remaining:  # bounded: each round hands out >= 1 item, and n <= len(targets)
        open_classes = [c for c in pools if quota[c] < len(pools[c])]
        share = max(1, remaining // len(open_classes))
        for c in rng.permutation(open_classes).tolist():
            give = min(share, len(pools[c]) - quota[c], remaining)
            quota[c] += give
            remaining -= give
            if not remaining:
                break
    chosen = np.concatenate([pools[c][: quota[c]] for c in pools])
    return Subset(dataset, sorted(chosen.tolist()))


def _root_dataset(dataset: Dataset[Any]) -> tuple[ImageDataset, list[int]]:
    indices = list(range(len(dataset)))  # type: ignore[arg-type]
    while isinstance(dataset, Subset):
        indices = [int(dataset.indices[i]) for i in indices]
        dataset = dataset.dataset
    if not isinstance(dataset, ImageDataset):
        raise DataError(f"cannot read raw images from a {type(dataset).__name__}; load it with load_dataset")
    return dataset, indices


def raw_images(info: DatasetInfo, n: int, seed: int) -> np.ndarray:
    """``n`` seeded images as uint8 NHWC RGB at the resolution, un-normalized and un-augmented."""
    base, indices = _root_dataset(info.dataset)
    if not 0 < n <= len(indices):
        raise DataError(f"asked for {n} raw images but {info.name} has {len(indices)}; ask for fewer")
    chosen = np.random.default_rng(seed).choice(len(indices), n, replace=False)
    images = [base.raw(indices[int(i)]).permute(1, 2, 0) for i in chosen]
    return torch.stack(images).numpy().astype(np.uint8)


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)


def make_loader(dataset: Dataset[Any], batch_size: int, shuffle: bool, seed: int, num_workers: int = 0,
                sampler: Sampler[Any] | None = None, drop_last: bool = False,
                batch_sampler: Sampler[list[int]] | None = None) -> DataLoader[Any]:
    """A DataLoader whose shuffling and worker seeds follow ``seed``.

    With ``batch_sampler`` (which yields index lists), ``batch_size``/``shuffle``/``drop_last`` are unused.
    """
    if batch_size < 1:
        raise DataError(f"batch size {batch_size} must be >= 1")
    generator = torch.Generator().manual_seed(int(seed))
    if batch_sampler is not None:
        return DataLoader(dataset, batch_sampler=batch_sampler, num_workers=num_workers, generator=generator,
                          worker_init_fn=_seed_worker)
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle and sampler is None, sampler=sampler,
                      num_workers=num_workers, generator=generator, worker_init_fn=_seed_worker,
                      drop_last=drop_last, persistent_workers=False, pin_memory=False)


def batches_per_epoch(n: int, batch_size: int, drop_last: bool) -> int:
    return n // batch_size if drop_last else math.ceil(n / batch_size)
