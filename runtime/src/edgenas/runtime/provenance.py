"""Where an output came from: git revision, seed, config hash, tool versions."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

_TOOLS = ("edgenas-runtime", "edgenas-compile", "edgenas-search", "numpy", "onnxruntime", "onnx", "opencv-python-headless",
          "torch", "torchvision", "pymoo", "hailort", "hailo-dataflow-compiler")


def git_revision(cwd: str | Path | None = None) -> str | None:
    """The commit of the working tree (with ``-dirty`` when it has changes), or None outside git."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5)
        return rev.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def tool_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in _TOOLS:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def config_sha256(config: Any) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def provenance(stage: str, *, seed: int | None = None, config: Any = None) -> dict[str, Any]:
    return {
        "stage": stage,
        "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_revision": git_revision(Path(__file__).parent),
        "seed": seed,
        "config_sha256": config_sha256(config) if config is not None else None,
        "command": " ".join(sys.argv[:1] + sys.argv[1:8]),
        "host": platform.node(),
        "platform": platform.platform(),
        "tool_versions": tool_versions(),
    }
