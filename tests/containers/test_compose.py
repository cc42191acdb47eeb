"""compose.yaml: the rendered configuration, the Hailo override, missing settings, and `up` of the runtime service
against a bundle in the shared runs directory (healthy through its /metrics healthcheck, then its report)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from .conftest import REPO, readable_copy, sh

pytestmark = pytest.mark.containers


def compose(*args: str, env: dict[str, str], project: str = "edgenas-test", files: tuple[str, ...] = ("compose.yaml",),
            timeout: float = 180):
    fargs = [a for f in files for a in ("-f", str(REPO / f))]
    return sh("docker", "compose", "-p", project, *fargs, *args, env=env, timeout=timeout)


@pytest.fixture
def runs(host_bundle: Path, tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    readable_copy(host_bundle, runs / "bundles" / "tiny")
    runs.chmod(0o777)
    return runs


@pytest.fixture
def env(runs: Path, runtime_image: str) -> dict[str, str]:
    return {"EDGENAS_RUNS": str(runs), "EDGENAS_BUNDLE": "bundles/tiny", "EDGENAS_SOURCE": "synthetic",
            "EDGENAS_RUNTIME_IMAGE": runtime_image, "EDGENAS_METRICS_PORT": "0", "EDGENAS_UID": "1000",
            "EDGENAS_GID": "1000"}


def _config(env: dict[str, str], *files: str) -> dict:
    proc = compose("config", "--format", "json", env=env, files=files or ("compose.yaml",))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_config_renders_runtime_command_and_shared_runs(env: dict[str, str], runs: Path) -> None:
    svc = _config(env)["services"]["runtime"]
    cmd = svc["command"]
    assert cmd[cmd.index("--bundle") + 1] == "/runs/bundles/tiny"
    assert cmd[cmd.index("--source") + 1] == "synthetic"
    assert svc["volumes"][0]["source"] == str(runs)
    assert "devices" not in svc


def test_hailo_override_passes_the_device(env: dict[str, str]) -> None:
    svc = _config(env, "compose.yaml", "compose.hailo.yaml")["services"]["runtime"]
    assert [d["source"] for d in svc["devices"]] == ["/dev/hailo0"]
    assert svc["environment"]["EDGENAS_HAILO_CHECK"] == "require"


def test_missing_bundle_setting_stops_the_runtime(env: dict[str, str]) -> None:
    env = {**env, "EDGENAS_BUNDLE": ""}
    proc = compose("run", "--rm", "--no-deps", "runtime", env=env, project=f"edgenas-test-{uuid.uuid4().hex[:8]}")
    assert proc.returncode == 1
    assert "EDGENAS_BUNDLE is not set" in proc.stderr


@pytest.mark.slow
def test_up_runtime_service_becomes_healthy_and_reports(env: dict[str, str], runs: Path) -> None:
    project = f"edgenas-test-{uuid.uuid4().hex[:8]}"
    env = {**env, "EDGENAS_RUN_ARGS": "--duration 12 --threads 1"}
    try:
        up = compose("up", "-d", "--no-build", "--wait", "--wait-timeout", "60", "runtime", env=env, project=project)
        assert up.returncode == 0, up.stderr
        done = compose("wait", "runtime", env=env, project=project, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads((runs / "runtime-report.json").read_text())
        assert report["stop_reason"] == "duration"
        assert report["frames"] > 0
    finally:
        compose("down", "--remove-orphans", env=env, project=project)
