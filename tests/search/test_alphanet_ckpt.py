"""The official AlphaNet checkpoint path, checked against a synthetic checkpoint built from the published
key layout (reference/alphanet.md §b, §f) and an independent functional reference forward pass."""

from __future__ import annotations

import json
import pickle
import sys
import types

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from edgenas.runtime.cli import cli
from edgenas.search.alphanet_ckpt import CheckpointFormatError, load_alphanet_checkpoint, safe_load
from edgenas.search.spaces import load_space
from edgenas.search.supernet import Supernet

# stage: (max depth, stride, SE, max in of first block, max out, expand max first/later, SE mid first/later)
STAGES = [
    (2, 1, False, 24, 24, None, None, 0, 0),
    (5, 2, False, 24, 32, 144, 192, 0, 0),
    (6, 2, True, 32, 40, 192, 240, 48, 64),
    (6, 2, False, 40, 72, 240, 432, 0, 0),
    (8, 1, True, 72, 128, 432, 768, 112, 192),
    (8, 2, True, 128, 216, 768, 1296, 192, 328),
    (2, 1, True, 216, 224, 1296, 1344, 328, 336),
]
A0 = {"resolution": 192, "width": [16, 16, 24, 32, 64, 112, 192, 216, 1792], "depth": [1, 3, 3, 3, 3, 3, 1],
      "kernel_size": [3] * 7, "expand_ratio": [1, 4, 4, 4, 4, 6, 6], "model": "a0", "flops": 203}
TRAPPED: list[str] = []


def _trap(*args):  # a pickled callable the safe loader must never call
    TRAPPED.append("called")
    return "trapped"


class Trap:
    def __reduce__(self):
        return (_trap, ("boom",))


def _bn_keys(p: str, c: int) -> dict[str, tuple[int, ...]]:
    keys = {f"{p}.bn.bn.{n}": (c,) for n in ("weight", "bias", "running_mean", "running_var")}
    keys[f"{p}.bn.bn.num_batches_tracked"] = ()
    for t in (0, 1):
        keys.update({f"{p}.bn.bn_tracking.{t}.{n}": (c,) for n in ("running_mean", "running_var")})
        keys[f"{p}.bn.bn_tracking.{t}.num_batches_tracked"] = ()
    return keys


def published_layout() -> dict[str, tuple[int, ...]]:
    """Every key of the AttentiveNAS / AlphaNet supernet with its max shape, without the module. prefix."""
    keys = {"first_conv.conv.conv.weight": (24, 3, 3, 3), **_bn_keys("first_conv", 24)}
    i = 0
    for depth, _, se, c_in0, c_out, hid0, hid1, mid0, mid1 in STAGES:
        for j in range(depth):
            c_in, hid, mid = (c_in0, hid0, mid0) if j == 0 else (c_out, hid1, mid1)
            m = f"blocks.{i}.mobile_inverted_conv"
            if hid is None:
                hid = c_in
            else:
                keys[f"{m}.inverted_bottleneck.conv.conv.weight"] = (hid, c_in, 1, 1)
                keys.update(_bn_keys(f"{m}.inverted_bottleneck", hid))
            keys[f"{m}.depth_conv.conv.conv.weight"] = (hid, 1, 5, 5)
            keys.update(_bn_keys(f"{m}.depth_conv", hid))
            if se:
                keys.update({f"{m}.depth_conv.se.fc.reduce.weight": (mid, hid, 1, 1),
                             f"{m}.depth_conv.se.fc.reduce.bias": (mid,),
                             f"{m}.depth_conv.se.fc.expand.weight": (hid, mid, 1, 1),
                             f"{m}.depth_conv.se.fc.expand.bias": (hid,)})
            keys[f"{m}.point_linear.conv.conv.weight"] = (c_out, hid, 1, 1)
            keys.update(_bn_keys(f"{m}.point_linear", c_out))
            keys[f"blocks.{i}.shortcut.conv.conv.weight"] = (c_out, c_in, 1, 1)
            i += 1
    keys["last_conv.final_expand_layer.conv.conv.weight"] = (1344, 224, 1, 1)
    keys.update(_bn_keys("last_conv.final_expand_layer", 1344))
    keys["last_conv.feature_mix_layer.conv.conv.weight"] = (1984, 1344, 1, 1)
    keys.update({"classifier.linear.linear.weight": (1000, 1984), "classifier.linear.linear.bias": (1000,)})
    return keys


def synthetic_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, shape in published_layout().items():
        if k.endswith("num_batches_tracked"):
            v = torch.tensor(7, dtype=torch.long)
        elif k.endswith("running_var"):
            v = torch.rand(shape, generator=g) + 0.5
        elif k.endswith(("running_mean", "bias")):
            v = torch.randn(shape, generator=g) * 0.1
        elif ".bn.bn." in k:  # BN weight
            v = torch.rand(shape, generator=g) + 0.5
        else:
            fan_in = int(np.prod(shape[1:]))
            v = torch.randn(shape, generator=g) / fan_in ** 0.5
        sd["module." + k] = v.half() if v.is_floating_point() else v
    return sd


def _md(v: float, d: int = 8) -> int:
    new = max(d, int(v + d / 2) // d * d)
    return new + d if new < 0.9 * v else new


def reference_forward(sd: dict[str, torch.Tensor], cfg: dict, x: torch.Tensor) -> torch.Tensor:
    """AlphaNet's subnet semantics written directly over the raw checkpoint keys (eval-mode BN)."""
    def g(k):
        return sd["module." + k].float()

    def bn(t, p):
        c = t.shape[1]
        return F.batch_norm(t, g(p + ".bn.bn.running_mean")[:c], g(p + ".bn.bn.running_var")[:c],
                            g(p + ".bn.bn.weight")[:c], g(p + ".bn.bn.bias")[:c], False, 0.0, 1e-5)

    def sw(t):
        return t * torch.sigmoid(t)

    def crop(w, k):
        s = (w.shape[-1] - k) // 2
        return w[..., s:s + k, s:s + k]

    c = cfg["width"][0]
    x = sw(bn(F.conv2d(x, g("first_conv.conv.conv.weight")[:c], stride=2, padding=1), "first_conv"))
    i0 = 0
    for s, (max_d, stride, se, *_) in enumerate(STAGES):
        c_out, d, k, t = cfg["width"][s + 1], cfg["depth"][s], cfg["kernel_size"][s], cfg["expand_ratio"][s]
        for j in range(d):
            p, m = f"blocks.{i0 + j}", f"blocks.{i0 + j}.mobile_inverted_conv"
            c_in, st, h = x.shape[1], stride if j == 0 else 1, x
            if t != 1:
                hid = _md(round(c_in * t))
                h = sw(bn(F.conv2d(h, g(m + ".inverted_bottleneck.conv.conv.weight")[:hid, :c_in]),
                          m + ".inverted_bottleneck"))
            hid = h.shape[1]
            w = crop(g(m + ".depth_conv.conv.conv.weight")[:hid], k)
            h = sw(bn(F.conv2d(h, w, stride=st, padding=k // 2, groups=hid), m + ".depth_conv"))
            if se:
                mid = _md(hid // 4)
                z = F.relu(F.conv2d(h.mean((2, 3), keepdim=True), g(m + ".depth_conv.se.fc.reduce.weight")[:mid, :hid],
                                    g(m + ".depth_conv.se.fc.reduce.bias")[:mid]))
                z = F.conv2d(z, g(m + ".depth_conv.se.fc.expand.weight")[:hid, :mid],
                             g(m + ".depth_conv.se.fc.expand.bias")[:hid])
                h = h * (F.relu6(z + 3) / 6)
            h = bn(F.conv2d(h, g(m + ".point_linear.conv.conv.weight")[:c_out, :hid]), m + ".point_linear")
            r = x
            if st == 2:
                r = F.avg_pool2d(r, 2, 2, padding=r.shape[-1] % 2)
            if c_in != c_out:
                r = F.conv2d(r, g(p + ".shortcut.conv.conv.weight")[:c_out, :c_in])
            x = h + r
        i0 += max_d
    c, fe, hc = x.shape[1], 6 * x.shape[1], cfg["width"][-1]
    x = sw(bn(F.conv2d(x, g("last_conv.final_expand_layer.conv.conv.weight")[:fe, :c]), "last_conv.final_expand_layer"))
    x = sw(F.conv2d(x.mean((2, 3), keepdim=True), g("last_conv.feature_mix_layer.conv.conv.weight")[:hc, :fe]))
    return F.linear(x.flatten(1), g("classifier.linear.linear.weight")[:, :hc], g("classifier.linear.linear.bias"))


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """A legacy-format checkpoint like the released file: fp16 weights, pickled foreign ``args``, a trap."""
    sd = synthetic_state_dict()
    fake = types.ModuleType("utils.config")

    class Config:  # stands for AttentiveNAS's utils.config.Config
        def __setstate__(self, state):
            TRAPPED.append("config built")

    Config.__module__, Config.__qualname__ = "utils.config", "Config"
    fake.Config = Config
    parent = types.ModuleType("utils")
    parent.config = fake
    saved = {n: sys.modules.get(n) for n in ("utils", "utils.config")}
    sys.modules.update({"utils": parent, "utils.config": fake})
    try:
        cfg = Config()
        cfg.__dict__["lr"] = 0.1
        obj = {"epoch": 359, "args": cfg, "state_dict": sd, "optimizer": {"trap": Trap()}}
        path = tmp_path_factory.mktemp("ckpt") / "alphanet_pretrained.pth.tar"
        torch.save(obj, path, _use_new_zipfile_serialization=False)
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
    return path, sd


@pytest.fixture(scope="module")
def alphanet_net():
    return Supernet(load_space("alphanet"), 1000)


def test_published_layout_has_1468_keys():
    layout = published_layout()
    assert len(layout) == 1468
    assert sum(int(np.prod(s)) for k, s in layout.items() if "running" not in k and "num_batches" not in k) \
        == 23_934_704


def test_weights_only_refuses_but_safe_load_reads_without_building_objects(official):
    path, sd = official
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, map_location="cpu", weights_only=True)
    TRAPPED.clear()
    obj = safe_load(path)
    assert TRAPPED == []
    assert type(obj["args"]).__name__ == "Skipped" and "utils.config.Config" in repr(obj["args"])
    assert obj["epoch"] == 359 and len(obj["state_dict"]) == 1468
    assert torch.equal(obj["state_dict"]["module.first_conv.conv.conv.weight"], sd["module.first_conv.conv.conv.weight"])


def test_loader_maps_keys_and_upcasts(official, alphanet_net):
    path, sd = official
    net = load_alphanet_checkpoint(path, alphanet_net)
    assert net.stem.conv.weight.dtype == torch.float32
    torch.testing.assert_close(net.blocks[2][0].se.reduce.weight, sd["module.blocks.7.mobile_inverted_conv."
                                                                      "depth_conv.se.fc.reduce.weight"].float())
    torch.testing.assert_close(net.blocks[6][1].project.bn.running_var,
                               sd["module.blocks.36.mobile_inverted_conv.point_linear.bn.bn.running_var"].float())
    torch.testing.assert_close(net.head.feature_mix.weight, sd["module.last_conv.feature_mix_layer.conv.conv.weight"].float())


def test_exported_a0_reproduces_reference_logits(official, tmp_path):
    """The acceptance path: AlphaNet-format arch + official checkpoint + --no-recalibrate -> ONNX logits."""
    path, sd = official
    arch = tmp_path / "a0.json"
    arch.write_text(json.dumps(A0))
    out = tmp_path / "bundle"
    r = CliRunner().invoke(cli, ["search", "export", "--space", "alphanet", "--arch", str(arch), "--weights", str(path),
                                 "--out", str(out), "--no-recalibrate"])
    assert r.exit_code == 0, r.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["architecture"]["alphanet_config"]["width"] == A0["width"]
    assert manifest["architecture"]["weights"]["source"] == "alphanet"
    sess = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    x = torch.randn(1, 3, 192, 192, generator=torch.Generator().manual_seed(1))
    got = sess.run(["logits"], {"input": x.numpy()})[0]
    with torch.no_grad():
        ref = reference_forward(sd, A0, x).numpy()
    assert np.abs(ref).max() > 0.1
    assert np.abs(got - ref).max() <= 1e-4


A5_1 = {"resolution": 288, "width": [16, 16, 24, 32, 64, 112, 200, 216, 1984], "depth": [2, 3, 4, 3, 3, 5, 1],
        "kernel_size": [3, 3, 5, 5, 3, 3, 3], "expand_ratio": [1, 4, 4, 4, 5, 6, 6]}
BIG = {"resolution": 224, "width": [24, 24, 32, 40, 72, 120, 208, 224, 1984], "depth": [2, 4, 5, 6, 7, 6, 2],
       "kernel_size": [5, 5, 3, 5, 5, 3, 5], "expand_ratio": [1, 6, 5, 6, 5, 6, 6]}


@pytest.mark.parametrize("cfg", [A5_1, BIG], ids=["a5_1", "big"])
def test_extracted_subnets_match_reference(official, alphanet_net, cfg):
    """Other subnets (5x5 kernels, t = 5, max widths, 288 px) against the same reference, in PyTorch."""
    from edgenas.search.arch import ArchConfig

    path, sd = official
    net = load_alphanet_checkpoint(path, alphanet_net)
    net.activate(ArchConfig.from_dict(cfg))
    r = cfg["resolution"]
    x = torch.randn(1, 3, r, r, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        got, ref = net.extract().eval()(x), reference_forward(sd, cfg, x)
    assert ref.abs().max() > 0.1
    torch.testing.assert_close(got, ref, rtol=0, atol=1e-4)


def test_zip_format_with_foreign_objects_is_read_safely(tmp_path):
    path = tmp_path / "small.pt"
    torch.save({"state_dict": {"w": torch.ones(2, dtype=torch.float16)}, "extra": Trap()}, path)
    TRAPPED.clear()
    obj = safe_load(path)
    assert TRAPPED == [] and type(obj["extra"]).__name__ == "Skipped"
    assert obj["state_dict"]["w"].dtype == torch.float16


def _save_variant(path, sd):
    torch.save({"state_dict": sd}, path)
    return path


def test_refusals(official, tmp_path, alphanet_net):
    path, sd = official
    net = alphanet_net
    bad = dict(sd)
    bad["module.blocks.7.mobile_inverted_conv.depth_conv.se.fc.reduce.weight"] = torch.zeros(40, 192, 1, 1)
    with pytest.raises(CheckpointFormatError, match=r"blocks\.7\.mobile_inverted_conv\.depth_conv\.se\.fc\.reduce"
                                                    r"\.weight' has shape \[40, 192, 1, 1\].*needs \[48, 192, 1, 1\]"):
        load_alphanet_checkpoint(_save_variant(tmp_path / "shape.pt", bad), net)
    missing = {k: v for k, v in sd.items() if "blocks.3." not in k}
    with pytest.raises(CheckpointFormatError, match=r"lacks the tensor for 'blocks\.1\.1\.expand"):
        load_alphanet_checkpoint(_save_variant(tmp_path / "missing.pt", missing), net)
    with pytest.raises(CheckpointFormatError, match="another search space"):
        load_alphanet_checkpoint(path, Supernet(load_space("cifar"), 10))
    with pytest.raises(CheckpointFormatError, match="not an AlphaNet"):
        load_alphanet_checkpoint(_save_variant(tmp_path / "ours.pt", net.state_dict()), net)
    corrupt = tmp_path / "corrupt.pth.tar"
    corrupt.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(CheckpointFormatError, match="corrupt"):
        load_alphanet_checkpoint(corrupt, net)
    (tmp_path / "text.pth").write_text("hello")
    with pytest.raises(CheckpointFormatError, match="corrupt"):
        safe_load(tmp_path / "text.pth")
    with pytest.raises(CheckpointFormatError, match="does not exist"):
        safe_load(tmp_path / "nope.pth")
