"""Data sets: digits, ImageFolder, subsets, raw images, loaders, and the errors for bad input."""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pytest
import torch

from edgenas.search import data
from edgenas.search.data import DataError, load_dataset, make_loader, raw_images, subset, targets_of


@pytest.fixture(scope="module")
def digits() -> data.DatasetInfo:
    return load_dataset("digits", "train", resolution=16)


def test_digits_shapes_labels_and_stats(digits: data.DatasetInfo) -> None:
    val = load_dataset("digits", "val", resolution=16)
    assert len(digits.dataset) + len(val.dataset) == 1797
    assert digits.num_classes == 10 and digits.classes[3] == "3" and digits.name == "digits"
    x, y = digits.dataset[0]
    assert x.shape == (3, 16, 16) and x.dtype == torch.float32 and isinstance(y, int)
    assert 0 < digits.mean_pixel[0] < 255 and digits.std_pixel[0] > 0
    every = torch.stack([digits.dataset[i][0] for i in range(len(digits.dataset))])
    assert abs(float(every.mean())) < 0.05 and abs(float(every.std()) - 1.0) < 0.05


def test_digits_split_is_fixed_and_disjoint() -> None:
    a = load_dataset("digits", "val", resolution=8)
    b = load_dataset("digits", "val", resolution=8)
    assert targets_of(a.dataset) == targets_of(b.dataset)
    train = load_dataset("digits", "train", resolution=8)
    tr = {raw.tobytes() for raw in raw_images(train, len(train.dataset), 0)}
    va = [raw.tobytes() for raw in raw_images(a, len(a.dataset), 0)]
    assert sum(v in tr for v in va) < len(va) // 10  # a few digits are pixel-identical, most are not


def test_augment_changes_pixels_but_not_labels() -> None:
    aug = load_dataset("digits", "train", resolution=16, augment=True)
    torch.manual_seed(0)
    views = [aug.dataset[5][0] for _ in range(5)]
    assert any(not torch.equal(views[0], v) for v in views[1:])
    assert {aug.dataset[5][1] for _ in range(3)} == {targets_of(aug.dataset)[5]}


def test_subset_count_fraction_balanced_and_seeded(digits: data.DatasetInfo) -> None:
    s = subset(digits.dataset, 50, seed=1)
    assert len(s) == 50 and set(collections.Counter(targets_of(s)).values()) == {5}
    assert list(subset(digits.dataset, 50, seed=1).indices) == list(s.indices)
    assert list(subset(digits.dataset, 50, seed=2).indices) != list(s.indices)
    assert len(subset(digits.dataset, 0.25, seed=0)) == round(0.25 * len(digits.dataset))
    assert len(subset(digits.dataset, 37, seed=0, balanced=False)) == 37
    nested = subset(s, 10, seed=0)
    assert len(nested) == 10 and set(collections.Counter(targets_of(nested)).values()) == {1}


@pytest.mark.parametrize("size", [0, 10_000, 1.5, -0.1])
def test_subset_rejects_impossible_sizes(digits: data.DatasetInfo, size: float) -> None:
    with pytest.raises(DataError):
        subset(digits.dataset, size, seed=0)


def test_raw_images_are_uint8_nhwc_and_match_normalized(digits: data.DatasetInfo) -> None:
    raws = raw_images(digits, 4, seed=3)
    assert raws.shape == (4, 16, 16, 3) and raws.dtype == np.uint8
    assert np.array_equal(raws, raw_images(digits, 4, seed=3))
    chosen = np.random.default_rng(3).choice(len(digits.dataset), 4, replace=False)
    x, _ = digits.dataset[int(chosen[0])]
    back = x.permute(1, 2, 0).numpy() * np.array(digits.std_pixel) + np.array(digits.mean_pixel)
    assert np.allclose(back, raws[0], atol=1e-3)
    with pytest.raises(DataError):
        raw_images(digits, 10**6, seed=0)


def test_loader_is_seeded(digits: data.DatasetInfo) -> None:
    first = [next(iter(make_loader(digits.dataset, 8, True, seed=s)))[1].tolist() for s in (0, 0, 1)]
    assert first[0] == first[1] != first[2]


def _folder(root: Path, classes: dict[str, int]) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, count in classes.items():
        (root / name).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    return root


def test_imagefolder_single_folder_is_split(tmp_path: Path) -> None:
    root = _folder(tmp_path / "imgs", {"cat": 10, "dog": 10})
    train = load_dataset(f"imagefolder:{root}", "train", resolution=12, augment=True)
    val = load_dataset(f"imagefolder:{root}", "val", resolution=12)
    assert train.classes == ["cat", "dog"] and len(train.dataset) == 16 and len(val.dataset) == 4
    assert train.dataset[0][0].shape == (3, 12, 12)
    assert raw_images(val, 2, 0).shape == (2, 12, 12, 3)


def test_imagefolder_train_val_dirs(tmp_path: Path) -> None:
    _folder(tmp_path / "ds" / "train", {"a": 3, "b": 2})
    _folder(tmp_path / "ds" / "val", {"a": 1, "b": 1})
    info = load_dataset(f"imagefolder:{tmp_path / 'ds'}", "val", resolution=10)
    assert len(info.dataset) == 2 and info.num_classes == 2


def test_imagefolder_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nowhere"):
        load_dataset(f"imagefolder:{tmp_path / 'nowhere'}", resolution=10)
    root = _folder(tmp_path / "imgs", {"full": 3})
    (root / "empty_class").mkdir()
    with pytest.raises(DataError, match="empty_class"):
        load_dataset(f"imagefolder:{root}", resolution=10)


def test_unknown_names_and_offline_cifar(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError, match="unknown data set"):
        load_dataset("mnist", resolution=16)
    with pytest.raises(DataError, match="split"):
        load_dataset("digits", split="test", resolution=16)

    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr("torchvision.datasets.utils.download_url", offline)
    monkeypatch.setattr("torchvision.datasets.cifar.download_and_extract_archive", offline)
    with pytest.raises(DataError, match="--data-root"):
        load_dataset("cifar10", resolution=32, root=str(tmp_path / "cifar"))
