"""Seeded distorted copies of an evaluation set (edgenas.search.distort)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from edgenas.search.data import DataError, DatasetInfo, ImageDataset, load_dataset, subset, targets_of
from edgenas.search.distort import Distortion, distorted_copies

NONE = Distortion(degrees=0.0, translate=0.0, scale=(1.0, 1.0), noise_std=0.0)


@pytest.fixture(scope="module")
def val() -> DatasetInfo:
    return load_dataset("digits", "val", resolution=16)


def _images(info: DatasetInfo) -> ImageDataset:
    assert isinstance(info.dataset, ImageDataset)
    return info.dataset


def _pixels(info: DatasetInfo, n: int) -> torch.Tensor:
    return torch.stack([_images(info).raw(i) for i in range(n)])


def test_copies_are_copy_major_with_the_same_labels_and_normalization(val: DatasetInfo) -> None:
    d = distorted_copies(val, 3, seed=0)
    n = len(_images(val))
    assert len(_images(d)) == 3 * n and d.name == "digits+distorted3" and d.resolution == 16
    assert targets_of(d.dataset) == targets_of(val.dataset) * 3
    assert d.mean_pixel == val.mean_pixel and d.std_pixel == val.std_pixel
    x, y = d.dataset[n + 4]
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and y == targets_of(val.dataset)[4]


def test_same_seed_same_pixels_other_seed_other_pixels(val: DatasetInfo) -> None:
    a, b, c = (distorted_copies(val, 2, seed=s) for s in (0, 0, 1))
    assert torch.equal(_pixels(a, 50), _pixels(b, 50))
    assert not torch.equal(_pixels(a, 50), _pixels(c, 50))
    n = len(_images(val))
    assert not torch.equal(_images(a).raw(0), _images(a).raw(n))  # two copies of one image differ


def test_no_distortion_gives_the_original_images(val: DatasetInfo) -> None:
    d = distorted_copies(val, 2, seed=0, distortion=NONE)
    n = len(_images(val))
    assert torch.equal(_pixels(d, n), _pixels(val, n))
    assert torch.equal(_images(d).raw(n + 7), _images(val).raw(7))


def test_grey_images_stay_grey_and_pixels_change(val: DatasetInfo) -> None:
    d = distorted_copies(val, 1, seed=0)
    x = _pixels(d, 20)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 0], x[:, 2])
    assert (x.float() - _pixels(val, 20).float()).abs().mean() > 5


def test_works_on_subsets_and_ignores_augmentation() -> None:
    aug = load_dataset("digits", "val", resolution=16, augment=True)
    part = subset(aug.dataset, 20, seed=0)
    d = distorted_copies(dataclasses.replace(aug, dataset=part), 1, 0, NONE)
    assert torch.equal(_pixels(d, 20), torch.stack([_images(aug).raw(i) for i in part.indices]))


@pytest.mark.parametrize("kwargs", [{"degrees": -1.0}, {"translate": 0.5}, {"scale": (1.2, 1.0)},
                                    {"noise_std": -1.0}])
def test_bad_distortion_is_an_error(kwargs: dict[str, object]) -> None:
    with pytest.raises(DataError):
        Distortion(**kwargs)  # type: ignore[arg-type]


def test_zero_copies_is_an_error(val: DatasetInfo) -> None:
    with pytest.raises(DataError, match="copies"):
        distorted_copies(val, 0, seed=0)
