"""`edgenas bundle create | inspect | validate` through the CLI root (exit codes, files)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from edgenas.runtime.bundle import load_bundle
from edgenas.runtime.cli import cli


def edgenas(*args: Any) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args])


def _manifest(root: Path) -> dict[str, Any]:
    return json.loads((root / "manifest.json").read_text())


def test_create_then_validate(tiny_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "b"
    r = edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", out, "--mean", 123.675, 116.28, 103.53,
                "--std", 58.395, 57.12, 57.375, "--color-order", "BGR", "--name", "tiny")
    assert r.exit_code == 0, r.output
    m = _manifest(out)
    assert m["inputs"] == [{"name": "input", "shape": [1, 3, 16, 16], "dtype": "float32"}]
    assert m["outputs"] == [{"name": "logits", "shape": [1, 5], "dtype": "float32"}]
    pre = m["preprocessing"]
    assert pre["size_hw"] == [16, 16] and pre["color_order"] == "BGR" and pre["layout"] == "NCHW"
    assert pre["mean_pixel"] == [123.675, 116.28, 103.53] and m["name"] == "tiny"
    assert m["provenance"]["stage"] == "bundle-create"
    r = edgenas("bundle", "validate", out)
    assert r.exit_code == 0 and r.output.startswith("valid"), r.output


def test_unit_scale_mean_std_are_multiplied(tiny_onnx: Path, tmp_path: Path) -> None:
    r = edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", tmp_path / "b",
                "--mean", 0.485, 0.456, 0.406, "--std", 0.229, 0.224, 0.225)
    assert r.exit_code == 0, r.output
    pre = _manifest(tmp_path / "b")["preprocessing"]
    assert pre["mean_pixel"] == pytest.approx([123.675, 116.28, 103.53])
    assert pre["std_pixel"] == pytest.approx([58.395, 57.12, 57.375])


def test_norm_scale_255_keeps_small_values(tiny_onnx: Path, tmp_path: Path) -> None:
    r = edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", tmp_path / "b", "--mean", 0, 0, 0,
                "--std", 1, 1, 1, "--norm-scale", "255")
    assert r.exit_code == 0, r.output
    assert _manifest(tmp_path / "b")["preprocessing"]["std_pixel"] == [1.0, 1.0, 1.0]


def test_defaults_scale_to_unit_range(tiny_onnx: Path, tmp_path: Path) -> None:
    assert edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", tmp_path / "b").exit_code == 0
    pre = _manifest(tmp_path / "b")["preprocessing"]
    assert pre["mean_pixel"] == [0.0, 0.0, 0.0] and pre["std_pixel"] == [255.0, 255.0, 255.0]


def test_labels(tiny_onnx: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\nbird\nfish\nfrog\n\n")
    r = edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", tmp_path / "b", "--labels", labels)
    assert r.exit_code == 0, r.output
    b = load_bundle(tmp_path / "b")
    assert b.manifest.classes == ("cat", "dog", "bird", "fish", "frog")
    assert b.artifact_path("labels") == tmp_path / "b" / "labels.txt"


def test_labels_count_mismatch(tiny_onnx: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("cat\ndog\n")
    r = edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", tmp_path / "b", "--labels", labels)
    assert r.exit_code == 1 and "2 classes" in r.output and "5" in r.output
    assert not (tmp_path / "b").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["labels.txt"]  # no partial output


def test_create_into_existing_dir(tiny_onnx: Path, tmp_path: Path) -> None:
    out = tmp_path / "b"
    assert edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", out).exit_code == 0
    r = edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", out, "--name", "again")
    assert r.exit_code == 1 and "--force" in r.output and _manifest(out)["name"] == "tiny"
    r = edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", out, "--name", "again", "--force")
    assert r.exit_code == 0 and _manifest(out)["name"] == "again"


def test_force_refuses_a_directory_that_is_not_a_bundle(tiny_onnx: Path, tmp_path: Path) -> None:
    other = tmp_path / "docs"
    other.mkdir()
    (other / "keep.txt").write_text("precious")
    r = edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", other, "--force")
    assert r.exit_code == 1 and "not a bundle" in r.output
    assert (other / "keep.txt").read_text() == "precious"


def test_truncated_onnx_is_refused(tiny_onnx: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(tiny_onnx.read_bytes()[:150])
    r = edgenas("bundle", "create", "--onnx", bad, "--out", tmp_path / "b")
    assert r.exit_code == 1 and "re-export" in r.output and not (tmp_path / "b").exists()


def test_dynamic_size_needs_input_size(make_onnx: Any, tmp_path: Path) -> None:
    dyn = make_onnx(tmp_path / "dyn.onnx", size_hw=("H", "W"), batch="N")
    r = edgenas("bundle", "create", "--onnx", dyn, "--out", tmp_path / "a")
    assert r.exit_code == 1 and "--input-size" in r.output
    r = edgenas("bundle", "create", "--onnx", dyn, "--out", tmp_path / "b", "--input-size", 24, 32)
    assert r.exit_code == 0, r.output
    assert _manifest(tmp_path / "b")["inputs"][0]["shape"] == [1, 3, 24, 32]  # dynamic batch became 1
    assert edgenas("bundle", "validate", tmp_path / "b").exit_code == 0


def test_input_size_disagreeing_with_static_model(tiny_onnx: Path, tmp_path: Path) -> None:
    r = edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", tmp_path / "b", "--input-size", 32, 32)
    assert r.exit_code == 1 and "disagrees" in r.output


def test_nhwc_model(make_onnx: Any, tmp_path: Path) -> None:
    r = edgenas("bundle", "create", "--onnx", make_onnx(tmp_path / "m.onnx", layout="NHWC"), "--out", tmp_path / "b")
    assert r.exit_code == 0, r.output
    m = _manifest(tmp_path / "b")
    assert m["preprocessing"]["layout"] == "NHWC" and m["inputs"][0]["shape"] == [1, 16, 16, 3]
    assert edgenas("bundle", "validate", tmp_path / "b").exit_code == 0


@pytest.mark.parametrize("args", [["--std", 0, 1, 1], ["--color-order", "XYZ"], ["--input-size", 0, 4],
                                  ["--mean", 1, 2]])
def test_bad_usage_is_exit_2(tiny_onnx: Path, tmp_path: Path, args: list[Any]) -> None:
    r = edgenas("bundle", "create", "--onnx", tiny_onnx, "--out", tmp_path / "b", *args)
    assert r.exit_code == 2 and not (tmp_path / "b").exists()


def test_inspect(tiny_bundle: Any) -> None:
    r = edgenas("bundle", "inspect", tiny_bundle.root)
    assert r.exit_code == 0 and "input [1, 3, 16, 16]" in r.output and "c0" in r.output
    r = edgenas("bundle", "inspect", tiny_bundle.root, "--json")
    s = json.loads(r.output)
    assert s["name"] == "tiny" and s["num_classes"] == 5 and s["model_format"] == "onnx"


def _validate_fails(root: Path, *needles: str) -> None:
    r = edgenas("bundle", "validate", root)
    assert r.exit_code == 1, r.output
    for n in needles:
        assert n in r.output, r.output


def test_validate_missing_manifest(tiny_bundle: Any) -> None:
    (tiny_bundle.root / "manifest.json").unlink()
    _validate_fails(tiny_bundle.root, "no manifest.json")


def test_validate_malformed_json(tiny_bundle: Any) -> None:
    (tiny_bundle.root / "manifest.json").write_text("{not json")
    _validate_fails(tiny_bundle.root, "not valid JSON")


def test_validate_unknown_schema(tiny_bundle: Any) -> None:
    d = _manifest(tiny_bundle.root)
    d["schema_version"] = 99
    (tiny_bundle.root / "manifest.json").write_text(json.dumps(d))
    _validate_fails(tiny_bundle.root, "schema_version 99")


def test_validate_path_escape(tiny_bundle: Any) -> None:
    d = _manifest(tiny_bundle.root)
    d["artifacts"][0]["path"] = d["model_file"] = "../model.onnx"
    (tiny_bundle.root / "manifest.json").write_text(json.dumps(d))
    _validate_fails(tiny_bundle.root, "leaves the bundle")


def test_validate_hash_mismatch(tiny_bundle: Any) -> None:
    model = tiny_bundle.root / "model.onnx"
    data = bytearray(model.read_bytes())
    data[10] ^= 1
    model.write_bytes(bytes(data))
    _validate_fails(tiny_bundle.root, "hash mismatch")


def test_validate_model_input_mismatch(tiny_bundle: Any) -> None:
    d = _manifest(tiny_bundle.root)
    d["inputs"][0]["name"] = "images"
    (tiny_bundle.root / "manifest.json").write_text(json.dumps(d))
    _validate_fails(tiny_bundle.root, "'input'", "'images'")


def test_validate_truncated_onnx_with_matching_hash(tiny_onnx: Path, tmp_path: Path) -> None:
    from edgenas.runtime.bundle import Preprocessing, TensorSpec, write_bundle

    write_bundle(tmp_path / "b", name="t", model_file="m.onnx", model_format="onnx",
                 files={"m.onnx": ("model", tiny_onnx.read_bytes()[:300])}, inputs=[TensorSpec("input", (1, 3, 16, 16))],
                 outputs=[TensorSpec("logits", (1, 5))], preprocessing=Preprocessing(size_hw=(16, 16)))
    _validate_fails(tmp_path / "b", "re-export")


def test_validate_hef_bundle_offline(tiny_hef_bundle: Any) -> None:
    r = edgenas("bundle", "validate", tiny_hef_bundle.root)
    assert r.exit_code == 0 and "HEF read offline with HailoRT 4.23.0" in r.output, r.output


def test_validate_hef_bundle_without_sdk_says_so(tiny_hef_bundle: Any, no_hailo_sdk: None) -> None:
    r = edgenas("bundle", "validate", tiny_hef_bundle.root)
    assert r.exit_code == 0 and "NOT opened" in r.output, r.output


def test_validate_hef_input_mismatch(tiny_hef_bundle: Any) -> None:
    d = _manifest(tiny_hef_bundle.root)
    d["preprocessing"]["size_hw"] = [8, 8]
    d["inputs"][0]["shape"] = [1, 8, 8, 3]
    (tiny_hef_bundle.root / "manifest.json").write_text(json.dumps(d))
    _validate_fails(tiny_hef_bundle.root, "[16, 16, 3]", "[1, 8, 8, 3]")


def _external_data_model(tiny_onnx: Path, tmp_path: Path) -> Path:
    import onnx

    src = tmp_path / "ext" / "m.onnx"
    src.parent.mkdir()
    onnx.save_model(onnx.load_model(str(tiny_onnx)), str(src), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="m.onnx.data", size_threshold=0)
    assert (src.parent / "m.onnx.data").is_file()
    return src


def test_external_data_is_merged_into_one_file(tiny_onnx: Path, tmp_path: Path) -> None:
    src = _external_data_model(tiny_onnx, tmp_path)
    r = edgenas("bundle", "create", "--onnx", src, "--out", tmp_path / "b")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["manifest.json", "model.onnx"]
    assert edgenas("bundle", "validate", tmp_path / "b").exit_code == 0


def test_external_data_without_onnx_package(tiny_onnx: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    src = _external_data_model(tiny_onnx, tmp_path)
    monkeypatch.setitem(sys.modules, "onnx", None)
    r = edgenas("bundle", "create", "--onnx", src, "--out", tmp_path / "b")
    assert r.exit_code == 1 and "external_data=False" in r.output and not (tmp_path / "b").exists()


def test_validate_bundle_missing_external_data(tiny_onnx: Path, tmp_path: Path) -> None:
    from edgenas.runtime.bundle import Preprocessing, TensorSpec, write_bundle

    src = _external_data_model(tiny_onnx, tmp_path)
    write_bundle(tmp_path / "b", name="t", model_file="m.onnx", model_format="onnx", files={"m.onnx": ("model", src)},
                 inputs=[TensorSpec("input", (1, 3, 16, 16))], outputs=[TensorSpec("logits", (1, 5))],
                 preprocessing=Preprocessing(size_hw=(16, 16)))
    _validate_fails(tmp_path / "b", "external data")
