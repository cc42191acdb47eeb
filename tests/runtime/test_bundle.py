"""The bundle format v1 reader trusts nothing: every bad input ends in BundleError with the fix."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from edgenas.runtime.bundle import derive_bundle, load_bundle
from edgenas.runtime.errors import BundleError


def _edit_manifest(root: Path, **changes: Any) -> None:
    mpath = root / "manifest.json"
    d = json.loads(mpath.read_text())
    d.update(changes)
    mpath.write_text(json.dumps(d))


def test_roundtrip(tiny_bundle: Any) -> None:
    b = load_bundle(tiny_bundle.root)
    assert b.manifest == tiny_bundle.manifest and b.manifest_sha256 == tiny_bundle.manifest_sha256
    assert b.model_path.read_bytes()[:2]  # the model file is there


def test_derive_links_parent_and_leaves_parent_untouched(tiny_bundle: Any, tmp_path: Path) -> None:
    before = (tiny_bundle.root / "manifest.json").read_bytes()
    child = derive_bundle(tiny_bundle, tmp_path / "child", name="child", latency={"p50_ms": 1.0})
    assert child.manifest.parent == {"name": "tiny", "manifest_sha256": tiny_bundle.manifest_sha256}
    assert (tiny_bundle.root / "manifest.json").read_bytes() == before


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nope")


def test_missing_manifest(tiny_bundle: Any) -> None:
    (tiny_bundle.root / "manifest.json").unlink()
    with pytest.raises(BundleError, match="no manifest.json.*bundle create"):
        load_bundle(tiny_bundle.root)


def test_malformed_json(tiny_bundle: Any) -> None:
    (tiny_bundle.root / "manifest.json").write_text('{"schema_version": 1, "name": ')
    with pytest.raises(BundleError, match="not valid JSON"):
        load_bundle(tiny_bundle.root)


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_unknown_schema_version(tiny_bundle: Any, version: Any) -> None:
    _edit_manifest(tiny_bundle.root, schema_version=version)
    with pytest.raises(BundleError, match="schema_version"):
        load_bundle(tiny_bundle.root)


@pytest.mark.parametrize("bad", ["../model.onnx", "/etc/passwd", "a/../../x", "C:\\x", "sub\\..\\x"])
def test_path_leaving_the_bundle(tiny_bundle: Any, bad: str) -> None:
    d = json.loads((tiny_bundle.root / "manifest.json").read_text())
    d["artifacts"][0]["path"] = bad
    d["model_file"] = bad
    (tiny_bundle.root / "manifest.json").write_text(json.dumps(d))
    with pytest.raises(BundleError, match="leaves the bundle"):
        load_bundle(tiny_bundle.root)


def test_symlink_outside_the_bundle(tiny_bundle: Any, tmp_path: Path) -> None:
    outside = tmp_path / "outside.onnx"
    model = tiny_bundle.root / "model.onnx"
    outside.write_bytes(model.read_bytes())
    model.unlink()
    os.symlink(outside, model)
    with pytest.raises(BundleError, match="outside the bundle"):
        load_bundle(tiny_bundle.root)


def test_hash_mismatch(tiny_bundle: Any) -> None:
    model = tiny_bundle.root / "model.onnx"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF  # same size, different content
    model.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="hash mismatch.*re-export"):
        load_bundle(tiny_bundle.root)


def test_truncated_artifact(tiny_bundle: Any) -> None:
    model = tiny_bundle.root / "model.onnx"
    model.write_bytes(model.read_bytes()[:100])
    with pytest.raises(BundleError, match="truncated"):
        load_bundle(tiny_bundle.root)


def test_missing_artifact(tiny_bundle: Any) -> None:
    (tiny_bundle.root / "model.onnx").unlink()
    with pytest.raises(BundleError, match="missing"):
        load_bundle(tiny_bundle.root)


def test_unknown_keys(tiny_bundle: Any) -> None:
    _edit_manifest(tiny_bundle.root, colour="blue")
    with pytest.raises(BundleError, match="unknown keys.*colour"):
        load_bundle(tiny_bundle.root)


def test_classes_count_mismatch(tiny_bundle: Any) -> None:
    _edit_manifest(tiny_bundle.root, classes=["a", "b"])
    with pytest.raises(BundleError, match="2 classes.*5"):
        load_bundle(tiny_bundle.root)
