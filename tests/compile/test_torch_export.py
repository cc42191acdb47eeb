"""A MobileNetV3-style block exported by torch (BN, depthwise, Hardswish, ReLU6, SE with HardSigmoid)
passes `compile check` for Hailo and compiles through the fake DFC with outputs equal to ONNX Runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from edgenas.runtime.cli import cli

torch = pytest.importorskip("torch")
nn = torch.nn


class _SE(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, 4, 1), nn.Conv2d(4, c, 1)

    def forward(self, x: Any) -> Any:
        s = nn.functional.adaptive_avg_pool2d(x, 1)
        return x * nn.functional.hardsigmoid(self.fc2(torch.relu(self.fc1(s))))


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.Hardswish())
        self.dw = nn.Sequential(nn.Conv2d(8, 8, 3, 1, 1, groups=8), nn.BatchNorm2d(8), nn.ReLU6())
        self.se, self.pw, self.fc = _SE(8), nn.Conv2d(8, 16, 1), nn.Linear(16, 5)

    def forward(self, x: Any) -> Any:
        y = self.pw(self.se(self.dw(self.stem(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


@pytest.mark.filterwarnings("ignore:You are using the legacy TorchScript-based ONNX export")
@pytest.mark.parametrize("opset", [13, 17])
def test_torch_mbv3_block_checks_and_compiles(opset: int, hailo_fakes: Any, make_calib_bundle: Any,
                                              tmp_path: Path) -> None:
    from edgenas.runtime.backends.base import open_backend
    from edgenas.runtime.bundle import load_bundle

    torch.manual_seed(0)
    path = tmp_path / "m.onnx"
    torch.onnx.export(_Net().eval(), torch.randn(1, 3, 16, 16), str(path), input_names=["input"],
                      output_names=["logits"], opset_version=opset, dynamo=False)
    bundle = make_calib_bundle(tmp_path / "b", path)
    res = CliRunner().invoke(cli, ["compile", "check", "--bundle", str(bundle.root), "--target", "hailo8l", "--json"])
    report = json.loads(res.stdout)
    assert res.exit_code == 0, report
    assert not [f for f in report["findings"] if f["code"] in ("unsupported-op", "clip")]
    res = CliRunner().invoke(cli, ["compile", "hef", "--bundle", str(bundle.root), "--target", "hailo8l",
                                   "--out", str(tmp_path / "hef")])
    assert res.exit_code == 0, res.output
    frame = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    with open_backend(load_bundle(tmp_path / "hef")) as hailo, open_backend(bundle, "onnxruntime") as ort:
        np.testing.assert_allclose(hailo.infer(hailo.prepare(frame))[0], ort.infer(ort.prepare(frame))[0], atol=1e-4)
