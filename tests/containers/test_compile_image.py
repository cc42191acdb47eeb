"""The compile image: the default build insists on the Hailo DFC wheel; the no-DFC variant (DFC=off) checks bundles
with the pins the DFC needs (NumPy 1.x, protobuf 3.20.3, onnx 1.17.0), and `compile hef` says the DFC is missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import REPO, docker_build, sh

pytestmark = [pytest.mark.containers, pytest.mark.slow]

COMPILE_TAG = "edgenas-compile:test-nodfc"


@pytest.fixture(scope="module")
def compile_image(base_image: str) -> str:
    docker_build("docker/compile.Dockerfile", COMPILE_TAG, f"BASE_IMAGE={base_image}", "DFC=off")
    return COMPILE_TAG


def test_default_build_needs_the_dfc_wheel(base_image: str) -> None:
    have_dfc = any((REPO / "vendor").glob("hailo_dataflow_compiler-3.*.whl"))
    proc = sh("docker", "build", "-f", "docker/compile.Dockerfile", "--build-arg", f"BASE_IMAGE={base_image}",
              "-t", "edgenas-compile:test-require", ".", timeout=1800, env={"DOCKER_BUILDKIT": "0"})
    if have_dfc:
        assert proc.returncode == 0, proc.stderr[-3000:]
    else:
        assert proc.returncode != 0
        out = proc.stdout + proc.stderr
        assert "vendor/ lacks hailo_dataflow_compiler-3.*.whl" in out
        assert "--build-arg DFC=off" in out


def test_pins_the_dfc_needs(compile_image: str) -> None:
    code = "import numpy, onnx, google.protobuf as p; print(numpy.__version__, onnx.__version__, p.__version__)"
    proc = sh("docker", "run", "--rm", "--entrypoint", "python", compile_image, "-c", code)
    assert proc.returncode == 0, proc.stderr
    numpy_v, onnx_v, protobuf_v = proc.stdout.split()
    assert numpy_v.startswith("1.")
    assert (onnx_v, protobuf_v) == ("1.17.0", "3.20.3")


def test_check_runs_and_hef_reports_missing_dfc(compile_image: str, host_bundle: Path) -> None:
    mounts = ["-v", f"{host_bundle}:/bundles/tiny:ro"]
    proc = sh("docker", "run", "--rm", *mounts, compile_image, "compile", "check", "--bundle", "/bundles/tiny",
              "--target", "onnxruntime-cpu", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["ok"] is True
    proc = sh("docker", "run", "--rm", *mounts, compile_image, "compile", "hef", "--bundle", "/bundles/tiny",
              "--target", "hailo8l", "--out", "/tmp/hef")
    assert proc.returncode == 1
    assert "hailo_sdk_client" in proc.stderr
