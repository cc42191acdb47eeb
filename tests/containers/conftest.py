"""Fixtures for the container tests (marker ``containers``; `make test-containers`).

The only reason to skip is that no Docker engine answers. Everything else (no debootstrap, not root, a build
that fails) is a failure with the reason.

* ``docker`` (session): the ``docker`` CLI path, after ``docker info`` answered.
* ``base_image`` (session): ``$EDGENAS_TEST_BASE_IMAGE`` when set (e.g. ``python:3.11-slim-bookworm`` where a
  registry can be reached), else the local Debian bookworm image from docker/make-base-image.sh (built once,
  cached by its tag).
* ``runtime_image`` (session): docker/runtime.Dockerfile built FROM ``base_image`` (layer cache: seconds when
  nothing changed), tagged ``edgenas-runtime:test``.
* ``host_bundle`` (session): a bundle made on the host with ``edgenas bundle create`` from the tiny ONNX model,
  readable by the image's non-root user.
* ``out_dir`` (function): an empty directory the container user can write to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgenas.runtime.cli import cli

REPO = Path(__file__).resolve().parents[2]
LOCAL_BASE_TAG = "edgenas-base:bookworm-py311"
RUNTIME_TAG = "edgenas-runtime:test"
BUILD_TIMEOUT_S = 1800


def sh(*args: str, timeout: float = 120, check: bool = False, env: dict[str, str] | None = None,
       cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run a command, capture text output; with ``check`` fail the test showing stderr."""
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, cwd=cwd,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
                    f"stderr:\n{proc.stderr[-3000:]}")
    return proc


def docker_build(dockerfile: str, tag: str, *build_args: str) -> None:
    args = [a for kv in build_args for a in ("--build-arg", kv)]
    sh("docker", "build", "-f", dockerfile, "-t", tag, *args, ".", timeout=BUILD_TIMEOUT_S, check=True,
       env={"DOCKER_BUILDKIT": "0"})


def _readable(path: Path) -> None:
    for p in [path, *path.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


@pytest.fixture(scope="session")
def docker() -> str:
    exe = shutil.which("docker")
    if exe is None:
        pytest.skip("no Docker engine answers: the docker CLI is not installed (apt-get install -y docker.io)")
    proc = subprocess.run([exe, "info"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        pytest.skip(f"no Docker engine answers (`docker info`: {proc.stderr.strip()[-200:]}); "
                    "start one: dockerd > /tmp/dockerd.log 2>&1 &")
    return exe


@pytest.fixture(scope="session")
def base_image(docker: str) -> str:
    given = os.environ.get("EDGENAS_TEST_BASE_IMAGE")
    if given:
        return given
    sh("bash", "docker/make-base-image.sh", "--tag", LOCAL_BASE_TAG, timeout=BUILD_TIMEOUT_S, check=True)
    return LOCAL_BASE_TAG


@pytest.fixture(scope="session")
def runtime_image(base_image: str) -> str:
    docker_build("docker/runtime.Dockerfile", RUNTIME_TAG, f"BASE_IMAGE={base_image}")
    return RUNTIME_TAG


@pytest.fixture(scope="session")
def host_bundle(tiny_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("host")
    out = root / "tiny"
    result = CliRunner().invoke(cli, ["bundle", "create", "--onnx", str(tiny_onnx), "--out", str(out)])
    assert result.exit_code == 0, result.output
    root.chmod(0o755)
    _readable(out)
    return out


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)  # the image's user (uid 1000) writes here
    return out


def readable_copy(src: Path, dst: Path) -> Path:
    """Copy a bundle so the container user can read it (tests then break the copy)."""
    shutil.copytree(src, dst)
    dst.parent.chmod(0o755)
    _readable(dst)
    return dst
