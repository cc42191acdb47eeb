"""The runtime image's optional HailoRT: a `hailort-*-cp311-*.whl` in vendor/ is installed (HAILORT=auto) and the
entrypoint then compares its version with the host driver's. The wheel here is a stand-in (a `hailo_platform`
package that only has `__version__`), built in a copy of the build context, so the real vendor/ is untouched."""

from __future__ import annotations

import base64
import hashlib
import platform
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from .conftest import REPO, sh

pytestmark = [pytest.mark.containers, pytest.mark.slow]

VERSION = "4.23.0"
TAG = "edgenas-runtime:test-hailort"


def write_stand_in_wheel(vendor: Path) -> Path:
    name = f"hailort-{VERSION}-cp311-cp311-linux_{platform.machine()}.whl"
    dist = f"hailort-{VERSION}.dist-info"
    files = {
        "hailo_platform/__init__.py": f'"""Stand-in for HailoRT in container tests."""\n__version__ = "{VERSION}"\n',
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: hailort\nVersion: {VERSION}\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: edgenas-tests\nRoot-Is-Purelib: false\n"
                         f"Tag: cp311-cp311-linux_{platform.machine()}\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join([*record, f"{dist}/RECORD,,"]) + "\n"
    wheel = vendor / name
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    return wheel


@pytest.fixture(scope="module")
def hailort_image(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    ctx = tmp_path_factory.mktemp("ctx")
    archive = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                             capture_output=True, check=True).stdout.decode().split("\0")
    for rel in filter(None, archive):
        src = REPO / rel
        if src.is_file() and (not rel.startswith("vendor/") or rel == "vendor/README.md"):
            (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, ctx / rel)
    write_stand_in_wheel(ctx / "vendor")
    sh("docker", "build", "-f", "docker/runtime.Dockerfile", "--build-arg", f"BASE_IMAGE={base_image}",
       "--build-arg", "HAILORT=require", "-t", TAG, ".", cwd=ctx, timeout=1800, check=True,
       env={"DOCKER_BUILDKIT": "0"})
    return TAG


@pytest.mark.parametrize(("driver", "code"), [("4.22.0", 1), (VERSION, 0)])
def test_vendor_hailort_is_installed_and_checked(hailort_image: str, tmp_path: Path, driver: str, code: int) -> None:
    version_file = tmp_path / "version"
    version_file.write_text(driver + "\n")
    version_file.chmod(0o644)
    proc = sh("docker", "run", "--rm", "--device", "/dev/null:/dev/hailo0", "-v", f"{version_file}:/hailo/version:ro",
              "-e", "EDGENAS_HAILO_DRIVER_VERSION_FILE=/hailo/version", hailort_image, "--version")
    assert proc.returncode == code, proc.stderr
    if code:
        assert f"host driver hailo_pci {driver}, image HailoRT {VERSION}" in proc.stderr
    else:
        assert f"driver {VERSION} = HailoRT {VERSION}" in proc.stderr
