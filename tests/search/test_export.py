from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner

from edgenas.runtime.bundle import load_bundle
from edgenas.runtime.cli import cli
from edgenas.search.export import ExportError, export_bundle, export_onnx, verify_onnx
from edgenas.search.flops import count_flops_params
from edgenas.search.spaces import load_space
from edgenas.search.supernet import Supernet

HAILO_FRIENDLY_OPS = {"Conv", "Add", "Mul", "Sigmoid", "HardSigmoid", "Relu", "AveragePool", "GlobalAveragePool",
                      "Flatten", "Gemm"}


def _run(*args: str):
    return CliRunner().invoke(cli, ["search", "export", *args])


@pytest.fixture
def tiny_arch(tmp_path):
    space = load_space("tiny")
    arch = space.sample(np.random.default_rng(4))
    p = tmp_path / "arch.json"
    p.write_text(json.dumps(arch.to_dict(space="tiny")))
    return space, arch, p


@pytest.mark.parametrize("name", ["tiny", "cifar"])
def test_onnx_matches_pytorch(name, tmp_path, randomize_bn):
    space = load_space(name)
    net = randomize_bn(Supernet(space, 10, zero_init_residual=False))
    for i, arch in enumerate([space.max_arch(), space.min_arch(), space.sample(np.random.default_rng(2))]):
        net.activate(arch)
        model = net.extract().eval()
        path = tmp_path / f"{i}.onnx"
        export_onnx(model, arch.resolution, path, opset=11)
        m = onnx.load(str(path))
        assert m.opset_import[0].version == 11
        assert {n.op_type for n in m.graph.node} <= HAILO_FRIENDLY_OPS
        assert [i.name for i in m.graph.input] == ["input"] and [o.name for o in m.graph.output] == ["logits"]
        dims = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
        assert dims == [1, 3, arch.resolution, arch.resolution]
        x = torch.randn(1, 3, arch.resolution, arch.resolution)
        got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
        with torch.no_grad():
            ref = model(x).numpy()
        assert np.abs(ref).max() > 1e-2
        assert np.abs(got - ref).max() <= 1e-4


def test_verify_onnx_catches_a_mismatch(tmp_path, randomize_bn):
    space = load_space("tiny")
    net = randomize_bn(Supernet(space, 10, zero_init_residual=False))
    net.sample_max()
    model = net.extract().eval()
    path = tmp_path / "m.onnx"
    export_onnx(model, 24, path)
    with torch.no_grad():
        model.classifier.bias.add_(1.0)
    with pytest.raises(ExportError, match="differs from PyTorch"):
        verify_onnx(model, path, 24)


def test_cli_export_tiny(tiny_arch, tmp_path):
    space, arch, p = tiny_arch
    out = tmp_path / "bundle"
    r = _run("--space", "tiny", "--arch", str(p), "--out", str(out), "--json")
    assert r.exit_code == 0, r.output
    b = load_bundle(out)
    m = b.manifest
    assert m.inputs[0].name == "input" and m.inputs[0].shape == (1, 3, arch.resolution, arch.resolution)
    assert m.outputs[0].name == "logits" and m.outputs[0].shape == (1, 10)
    a = m.architecture
    assert a["space"] == "tiny" and a["arch_id"] == arch.arch_id and a["config"] == arch.to_dict()
    assert (a["macs"], a["params"]) == count_flops_params(space, arch, 10)
    assert a["weights"]["source"] == "random-init" and "alphanet_config" not in a
    assert b.artifact_path("calibration") is None
    assert {n.op_type for n in onnx.load(str(b.model_path)).graph.node} <= HAILO_FRIENDLY_OPS  # no Identity
    assert m.preprocessing.mean_pixel == space.mean_pixel
    assert json.loads(r.stdout.strip().splitlines()[-1])["arch_id"] == arch.arch_id


def test_cli_export_with_dataset_recalibrates_and_stores_calibration(tiny_arch, tmp_path):
    _, arch, p = tiny_arch
    out = tmp_path / "bundle"
    r = _run("--space", "tiny", "--arch", str(p), "--out", str(out), "--dataset", "digits",
             "--calib-images", "12", "--calib-batches", "2", "--batch-size", "8")
    assert r.exit_code == 0, r.output
    b = load_bundle(out)
    cal = np.load(b.artifact_path("calibration"), allow_pickle=False)
    assert cal.dtype == np.uint8 and cal.shape == (12, arch.resolution, arch.resolution, 3) and cal.max() > 0
    assert b.manifest.classes == tuple(str(i) for i in range(10))
    assert "recalibrated on 2 x 8" in b.manifest.architecture["weights"]["bn"]


def test_cli_export_our_checkpoint(tiny_arch, tmp_path, randomize_bn):
    from edgenas.search.checkpoint import save_supernet_weights

    space, arch, p = tiny_arch
    net = randomize_bn(Supernet(space, 3, zero_init_residual=False))
    ckpt = save_supernet_weights(tmp_path / "supernet.pt", net, space, ["a", "b", "c"])
    out = tmp_path / "bundle"
    r = _run("--space", "tiny", "--arch", str(p), "--out", str(out), "--weights", str(ckpt), "--no-recalibrate")
    assert r.exit_code == 0, r.output
    b = load_bundle(out)
    assert b.manifest.classes == ("a", "b", "c") and b.manifest.architecture["weights"]["source"] == "edgenas"
    r = _run("--space", "tiny", "--arch", str(p), "--out", str(tmp_path / "b2"), "--weights", str(ckpt),
             "--num-classes", "5")
    assert r.exit_code == 1 and "3 output classes" in r.output and not (tmp_path / "b2").exists()
    net.activate(arch)
    x = torch.randn(1, 3, arch.resolution, arch.resolution)
    with torch.no_grad():
        ref = net.eval()(x).numpy()
    got = ort.InferenceSession(str(b.model_path), providers=["CPUExecutionProvider"]).run(None, {"input": x.numpy()})[0]
    assert np.abs(got - ref).max() <= 1e-4


@pytest.mark.parametrize("content, match", [
    ("{bad json", "not valid JSON"),
    (json.dumps({"resolution": 16, "widths": [8, 8, 16, 24, 32], "depths": [1, 1, 9], "kernel_sizes": [3, 3, 3],
                 "expand_ratios": [1, 2, 2]}), "depth.s3 = 9"),
    (json.dumps({"space": "cifar", "resolution": 16}), "space 'cifar'"),
    (json.dumps({"resolution": 16}), "not an architecture"),
])
def test_cli_bad_arch_exits_1_without_output(content, match, tmp_path):
    p = tmp_path / "arch.json"
    p.write_text(content)
    out = tmp_path / "bundle"
    r = _run("--space", "tiny", "--arch", str(p), "--out", str(out))
    assert r.exit_code == 1
    assert match in r.output
    assert not out.exists() and not [x for x in tmp_path.iterdir() if x.name.startswith(".bundle")]


def test_cli_refusals(tiny_arch, tmp_path):
    _, _, p = tiny_arch
    out = tmp_path / "bundle"
    r = _run("--space", "tiny", "--arch", str(p), "--out", str(out), "--recalibrate")
    assert r.exit_code == 1 and "--dataset" in r.output and not out.exists()
    r = _run("--space", "tiny", "--arch", str(p), "--out", str(out), "--weights", str(tmp_path / "none.pt"))
    assert r.exit_code == 1 and "does not exist" in r.output
    (tmp_path / "junk.pt").write_bytes(b"\x00" * 100)
    r = _run("--space", "tiny", "--arch", str(p), "--out", str(out), "--weights", str(tmp_path / "junk.pt"))
    assert r.exit_code == 1 and "corrupt" in r.output and not out.exists()
    r = _run("--space", "nope", "--arch", str(p), "--out", str(out))
    assert r.exit_code == 1 and "unknown search space" in r.output
    assert _run("--space", "tiny", "--out", str(out)).exit_code == 2


def test_cli_force_replaces_only_bundles(tiny_arch, tmp_path):
    _, _, p = tiny_arch
    out = tmp_path / "bundle"
    assert _run("--space", "tiny", "--arch", str(p), "--out", str(out)).exit_code == 0
    r = _run("--space", "tiny", "--arch", str(p), "--out", str(out))
    assert r.exit_code == 1 and "already exists" in r.output
    assert _run("--space", "tiny", "--arch", str(p), "--out", str(out), "--force").exit_code == 0
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("x")
    r = _run("--space", "tiny", "--arch", str(p), "--out", str(other), "--force")
    assert r.exit_code == 1 and "not a bundle" in r.output and (other / "keep.txt").is_file()


def test_export_bundle_checks_calibration_images(tmp_path):
    space = load_space("tiny")
    arch = space.min_arch()
    bad = np.zeros((2, 3, arch.resolution, arch.resolution), dtype=np.uint8)
    with pytest.raises(ExportError, match="NHWC"):
        export_bundle(space, arch, tmp_path / "b", calibration_images=bad)
    assert not (tmp_path / "b").exists()


def test_export_alphanet_a0_random_init(tmp_path):
    space = load_space("alphanet")
    b = export_bundle(space, space.min_arch(), tmp_path / "a0", recalibrate=False)
    a = b.manifest.architecture
    assert a["alphanet_config"]["width"] == [16, 16, 24, 32, 64, 112, 192, 216, 1792]
    assert abs(a["macs"] / 1e6 - 203.39) < 0.01 and b.manifest.outputs[0].shape == (1, 1000)
    assert b.manifest.preprocessing.mean_pixel == (123.675, 116.28, 103.53)
