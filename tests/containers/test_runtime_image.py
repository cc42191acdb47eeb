"""The runtime image: the `edgenas` entrypoint, bundle validation, bench and a live run inside the container,
non-root, and the fail-fast Hailo checks of the entrypoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import REPO, readable_copy, sh

pytestmark = pytest.mark.containers


def drun(image: str, *args: str, mounts: dict[Path, str] | None = None, opts: tuple[str, ...] = (),
         timeout: float = 120):
    vols = [a for src, dst in (mounts or {}).items() for a in ("-v", f"{src}:{dst}")]
    return sh("docker", "run", "--rm", *vols, *opts, image, *args, timeout=timeout)


def test_help_lists_the_command_groups(runtime_image: str) -> None:
    proc = drun(runtime_image, "--help")
    assert proc.returncode == 0, proc.stderr
    for group in ("bundle", "bench", "run"):
        assert group in proc.stdout


def test_runs_as_non_root_user(runtime_image: str) -> None:
    proc = sh("docker", "run", "--rm", "--entrypoint", "id", runtime_image, "-u")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1000"


def test_bundle_made_on_host_validates(runtime_image: str, host_bundle: Path) -> None:
    proc = drun(runtime_image, "bundle", "validate", "/bundles/tiny", mounts={host_bundle: "/bundles/tiny:ro"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("valid")


def test_tampered_bundle_fails_validation(runtime_image: str, host_bundle: Path, tmp_path: Path) -> None:
    bad = readable_copy(host_bundle, tmp_path / "bad")
    model = next(p for p in bad.iterdir() if p.suffix == ".onnx")
    model.write_bytes(model.read_bytes() + b"tampered")
    proc = drun(runtime_image, "bundle", "validate", "/bundles/bad", mounts={bad: "/bundles/bad:ro"})
    assert proc.returncode == 1
    assert "error:" in proc.stderr


def test_bench_prints_one_json_object(runtime_image: str, host_bundle: Path) -> None:
    proc = drun(runtime_image, "bench", "--bundle", "/bundles/tiny", "--json", "--runs", "20", "--threads", "1",
                mounts={host_bundle: "/bundles/tiny:ro"})
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["backend"] == "onnxruntime"
    assert result["runs"] == 20
    assert result["p50_ms"] > 0


def test_live_run_on_synthetic_frames_writes_report(runtime_image: str, host_bundle: Path, out_dir: Path) -> None:
    proc = drun(runtime_image, "run", "--bundle", "/bundles/tiny", "--source", "synthetic", "--duration", "3",
                "--threads", "1", "--report", "/out/report.json",
                mounts={host_bundle: "/bundles/tiny:ro", out_dir: "/out"})
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out_dir / "report.json").read_text())
    assert report["stop_reason"] == "duration"
    assert report["frames"] > 0


def test_missing_bundle_is_exit_1_with_message(runtime_image: str) -> None:
    proc = drun(runtime_image, "bench", "--bundle", "/nowhere", "--json")
    assert proc.returncode == 1
    assert "error:" in proc.stderr


# --- entrypoint: required settings and the Hailo driver/library check ------------------------------------------

def test_required_setting_missing_stops_with_its_name(runtime_image: str) -> None:
    proc = drun(runtime_image, "--help", opts=("-e", "EDGENAS_REQUIRE=EDGENAS_BUNDLE", "-e", "EDGENAS_BUNDLE="))
    assert proc.returncode == 1
    assert "EDGENAS_BUNDLE is not set" in proc.stderr


def test_hailo_required_without_device_fails_with_fix(runtime_image: str) -> None:
    proc = drun(runtime_image, "--help", opts=("-e", "EDGENAS_HAILO_CHECK=require"))
    assert proc.returncode == 1
    assert "--device /dev/hailo0" in proc.stderr


def _hailo_opts(driver_file: Path, *extra: str) -> tuple[str, ...]:
    return ("--device", "/dev/null:/dev/hailo0", "-v", f"{driver_file}:/hailo/version:ro",
            "-e", "EDGENAS_HAILO_DRIVER_VERSION_FILE=/hailo/version", *extra)


def _driver_file(tmp_path: Path, version: str) -> Path:
    f = tmp_path / "version"
    f.write_text(version + "\n")
    f.chmod(0o644)
    return f


def test_hailo_device_without_hailort_in_image_fails(runtime_image: str, tmp_path: Path) -> None:
    proc = drun(runtime_image, "--help", opts=_hailo_opts(_driver_file(tmp_path, "4.23.0")))
    assert proc.returncode == 1
    assert "HailoRT (hailo_platform) does not import" in proc.stderr
    assert "hailort-4.23.0-cp311" in proc.stderr


@pytest.mark.parametrize(("driver", "code"), [("4.20.0", 1), ("4.23.0", 0)])
def test_hailo_driver_must_equal_hailort_version(runtime_image: str, tmp_path: Path, driver: str, code: int) -> None:
    # The fake hailo_platform (tests/fakes) reports __version__ 4.23.0.
    fakes = {REPO / "tests" / "fakes": "/fakes:ro"}
    proc = drun(runtime_image, "--help", mounts=fakes,
                opts=_hailo_opts(_driver_file(tmp_path, driver), "-e", "PYTHONPATH=/fakes"))
    assert proc.returncode == code, proc.stderr
    if code:
        assert f"host driver hailo_pci {driver}, image HailoRT 4.23.0" in proc.stderr
    else:
        assert "Commands:" in proc.stdout
