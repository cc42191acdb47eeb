"""The bundle format, version 1: the one contract between search, compile and runtime.

A bundle is a directory holding model file(s) and ``manifest.json``. A stage never edits its
input bundle: it writes a new one whose ``parent`` names the input by its manifest hash.
The reader trusts nothing: every path must stay inside the bundle and every hash must match.
Stdlib + numpy only.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from edgenas.runtime._io import atomic_directory, atomic_write_json, sha256_bytes, sha256_file
from edgenas.runtime.errors import BundleError

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
MODEL_FORMATS = ("onnx", "hef")
COLOR_ORDERS = ("RGB", "BGR")
LAYOUTS = ("NCHW", "NHWC")
ROLES = ("model", "calibration", "labels", "report", "other")


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TensorSpec:
        _check_keys(d, {"name", "shape", "dtype"}, "tensor")
        return cls(name=str(d["name"]), shape=tuple(int(s) for s in d["shape"]), dtype=str(d.get("dtype", "float32")))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype}


@dataclass(frozen=True)
class Preprocessing:
    """What a frame goes through before the model: exactly this, in this order.

    Convert the camera frame to ``color_order``, resize to ``size_hw`` (``resize`` interpolation),
    subtract ``mean_pixel`` and divide by ``std_pixel`` (both on the 0-255 pixel scale, the same
    numbers as a Hailo ``normalization`` layer), then arrange as ``layout``.
    """

    size_hw: tuple[int, int]
    mean_pixel: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std_pixel: tuple[float, float, float] = (255.0, 255.0, 255.0)
    color_order: str = "RGB"
    layout: str = "NCHW"
    resize: str = "bilinear"

    def __post_init__(self) -> None:
        if self.color_order not in COLOR_ORDERS:
            raise BundleError(f"preprocessing.color_order must be one of {COLOR_ORDERS}, got {self.color_order!r}")
        if self.layout not in LAYOUTS:
            raise BundleError(f"preprocessing.layout must be one of {LAYOUTS}, got {self.layout!r}")
        if len(self.size_hw) != 2 or min(self.size_hw) <= 0:
            raise BundleError(f"preprocessing.size_hw must be two positive integers, got {self.size_hw}")
        if len(self.mean_pixel) != 3 or len(self.std_pixel) != 3:
            raise BundleError("preprocessing.mean_pixel and std_pixel need three values (R G B)")
        if any(s <= 0 for s in self.std_pixel):
            raise BundleError(f"preprocessing.std_pixel must be positive, got {self.std_pixel}")
        if self.resize not in ("bilinear", "nearest", "area", "bicubic"):
            raise BundleError(f"preprocessing.resize {self.resize!r} is not one of bilinear, nearest, area, bicubic")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Preprocessing:
        _check_keys(d, {f.name for f in dataclasses.fields(cls)}, "preprocessing")
        return cls(
            size_hw=(int(d["size_hw"][0]), int(d["size_hw"][1])),
            mean_pixel=tuple(float(v) for v in d.get("mean_pixel", (0, 0, 0))),  # type: ignore[arg-type]
            std_pixel=tuple(float(v) for v in d.get("std_pixel", (255, 255, 255))),  # type: ignore[arg-type]
            color_order=str(d.get("color_order", "RGB")),
            layout=str(d.get("layout", "NCHW")),
            resize=str(d.get("resize", "bilinear")),
        )

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


@dataclass(frozen=True)
class Artifact:
    path: str
    role: str
    sha256: str
    size_bytes: int

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Artifact:
        _check_keys(d, {"path", "role", "sha256", "size_bytes"}, "artifact")
        return cls(path=str(d["path"]), role=str(d["role"]), sha256=str(d["sha256"]), size_bytes=int(d["size_bytes"]))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Manifest:
    name: str
    model_file: str
    model_format: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    preprocessing: Preprocessing
    artifacts: tuple[Artifact, ...]
    classes: tuple[str, ...] = ()
    architecture: dict[str, Any] | None = None
    latency: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    parent: dict[str, Any] | None = None
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "model_file": self.model_file,
            "model_format": self.model_format,
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "preprocessing": self.preprocessing.to_dict(),
            "classes": list(self.classes),
            "architecture": self.architecture,
            "latency": self.latency,
            "artifacts": [a.to_dict() for a in self.artifacts],
            "provenance": self.provenance,
            "parent": self.parent,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Manifest:
        if not isinstance(d, Mapping):
            raise BundleError("manifest.json must hold a JSON object")
        version = d.get("schema_version")
        if version is None:
            raise BundleError("manifest.json has no schema_version; it was not written by edgenas")
        if version != SCHEMA_VERSION:
            raise BundleError(
                f"manifest schema_version {version!r} is not supported by this edgenas "
                f"(supports {SCHEMA_VERSION}); upgrade edgenas-runtime or re-export the bundle"
            )
        _check_keys(d, {f.name for f in dataclasses.fields(cls)}, "manifest")
        try:
            m = cls(
                name=str(d["name"]),
                model_file=str(d["model_file"]),
                model_format=str(d["model_format"]),
                inputs=tuple(TensorSpec.from_dict(t) for t in d["inputs"]),
                outputs=tuple(TensorSpec.from_dict(t) for t in d["outputs"]),
                preprocessing=Preprocessing.from_dict(d["preprocessing"]),
                artifacts=tuple(Artifact.from_dict(a) for a in d["artifacts"]),
                classes=tuple(str(c) for c in d.get("classes", ())),
                architecture=d.get("architecture"),
                latency=dict(d.get("latency") or {}),
                provenance=dict(d.get("provenance") or {}),
                parent=d.get("parent"),
                schema_version=int(version),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise BundleError(f"manifest.json is malformed: {type(exc).__name__}: {exc}") from exc
        m.check()
        return m

    def check(self) -> None:
        """Internal consistency, independent of the files on disk."""
        if self.model_format not in MODEL_FORMATS:
            raise BundleError(f"model_format must be one of {MODEL_FORMATS}, got {self.model_format!r}")
        if len(self.inputs) != 1:
            raise BundleError(f"a bundle model must have exactly one input, the manifest lists {len(self.inputs)}")
        if not self.outputs:
            raise BundleError("the manifest lists no outputs")
        paths = [a.path for a in self.artifacts]
        if len(set(paths)) != len(paths):
            raise BundleError("the manifest lists an artifact path twice")
        for p in paths + [self.model_file]:
            safe_relpath(p)
        if self.model_file not in paths:
            raise BundleError(f"model_file {self.model_file!r} is not among the manifest's artifacts")
        for a in self.artifacts:
            if a.role not in ROLES:
                raise BundleError(f"artifact {a.path!r} has unknown role {a.role!r}; expected one of {ROLES}")
        if self.classes:
            n_out = self.outputs[0].shape[-1] if self.outputs[0].shape else 0
            if n_out and n_out != len(self.classes):
                raise BundleError(
                    f"the manifest names {len(self.classes)} classes but the output has {n_out}; fix the labels file"
                )


def safe_relpath(path: str) -> PurePosixPath:
    """A path inside the bundle: relative, no ``..``, no backslashes or drive letters."""
    p = PurePosixPath(path)
    if not path or p.is_absolute() or "\\" in path or ":" in path or any(part in ("..", "") for part in p.parts):
        raise BundleError(f"manifest path {path!r} leaves the bundle; paths must be relative and stay inside it")
    return p


@dataclass(frozen=True)
class Bundle:
    root: Path
    manifest: Manifest
    manifest_sha256: str

    @property
    def model_path(self) -> Path:
        return self.root / self.manifest.model_file

    def artifact_path(self, role: str) -> Path | None:
        for a in self.manifest.artifacts:
            if a.role == role:
                return self.root / a.path
        return None

    def as_parent(self) -> dict[str, Any]:
        return {"name": self.manifest.name, "manifest_sha256": self.manifest_sha256}


def load_bundle(root: str | os.PathLike[str], verify_hashes: bool = True) -> Bundle:
    """Read and check a bundle: manifest schema, paths inside the bundle, sizes and hashes."""
    root = Path(root)
    if not root.is_dir():
        raise BundleError(f"bundle directory {root} does not exist; pass the directory that holds manifest.json")
    mpath = root / MANIFEST_NAME
    if not mpath.is_file():
        raise BundleError(f"{root} has no {MANIFEST_NAME}; it is not a bundle (create one with `edgenas bundle create`)")
    raw = mpath.read_bytes()
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{mpath} is not valid JSON ({exc}); re-create the bundle") from exc
    manifest = Manifest.from_dict(data)
    resolved_root = root.resolve()
    for a in manifest.artifacts:
        fpath = (root / a.path).resolve()
        if resolved_root not in fpath.parents:
            raise BundleError(f"artifact {a.path!r} resolves outside the bundle (symlink?); refusing it")
        if not fpath.is_file():
            raise BundleError(f"artifact {a.path!r} named in the manifest is missing from {root}")
        if verify_hashes:
            size = fpath.stat().st_size
            if size != a.size_bytes:
                raise BundleError(
                    f"artifact {a.path!r} is {size} bytes, the manifest says {a.size_bytes}: the file is truncated "
                    "or was replaced; re-export the bundle"
                )
            digest = sha256_file(fpath)
            if digest != a.sha256:
                raise BundleError(
                    f"artifact {a.path!r} hash mismatch (sha256 {digest[:12]}…, manifest {a.sha256[:12]}…): "
                    "the file was modified after the bundle was written; re-export the bundle"
                )
    return Bundle(root=root, manifest=manifest, manifest_sha256=sha256_bytes(raw))


def write_bundle(
    out: str | os.PathLike[str],
    *,
    name: str,
    model_file: str,
    model_format: str,
    files: Mapping[str, tuple[str, bytes | os.PathLike[str] | str]],
    inputs: Sequence[TensorSpec],
    outputs: Sequence[TensorSpec],
    preprocessing: Preprocessing,
    classes: Sequence[str] = (),
    architecture: dict[str, Any] | None = None,
    latency: dict[str, Any] | None = None,
    provenance: dict[str, Any] | None = None,
    parent: Bundle | None = None,
    overwrite: bool = False,
) -> Bundle:
    """Write a new bundle directory atomically.

    ``files`` maps a relative path inside the bundle to ``(role, content)``, where content is
    bytes or the path of a file to copy. Nothing appears at ``out`` unless everything succeeded.
    """
    out = Path(out)
    with atomic_directory(out, overwrite=overwrite) as tmp:
        artifacts = []
        for rel, (role, content) in files.items():
            safe_relpath(rel)
            dest = tmp / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes | bytearray):
                dest.write_bytes(bytes(content))
            else:
                with open(content, "rb") as src, open(dest, "wb") as dst:
                    while block := src.read(1 << 20):
                        dst.write(block)
            artifacts.append(Artifact(rel, role, sha256_file(dest), dest.stat().st_size))
        manifest = Manifest(
            name=name,
            model_file=model_file,
            model_format=model_format,
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            preprocessing=preprocessing,
            artifacts=tuple(artifacts),
            classes=tuple(classes),
            architecture=architecture,
            latency=dict(latency or {}),
            provenance=dict(provenance or {}),
            parent=parent.as_parent() if parent is not None else None,
        )
        manifest.check()
        atomic_write_json(tmp / MANIFEST_NAME, manifest.to_dict())
    return load_bundle(out)


def derive_bundle(
    parent: Bundle, out: str | os.PathLike[str], *, replace_files: Mapping[str, tuple[str, Any]] | None = None,
    drop_files: Sequence[str] = (), **changes: Any,
) -> Bundle:
    """Write a new bundle made from ``parent`` (which is never modified), with some fields changed."""
    m = parent.manifest
    files: dict[str, tuple[str, Any]] = {
        a.path: (a.role, parent.root / a.path) for a in m.artifacts if a.path not in drop_files
    }
    files.update(replace_files or {})
    kwargs: dict[str, Any] = {
        "name": m.name, "model_file": m.model_file, "model_format": m.model_format, "inputs": m.inputs,
        "outputs": m.outputs, "preprocessing": m.preprocessing, "classes": m.classes,
        "architecture": m.architecture, "latency": m.latency, "provenance": m.provenance,
    }
    kwargs.update(changes)
    return write_bundle(out, files=files, parent=parent, **kwargs)


def check_output_dir(out: Path, force: bool) -> None:
    """Refuse to write a bundle over something: an existing ``out`` needs ``force`` and must be a bundle."""
    from edgenas.runtime.errors import ConfigError

    if not out.exists():
        return
    if not force:
        raise ConfigError(f"{out} already exists; choose another --out, or pass --force to replace it")
    if not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST_NAME).is_file()):
        raise ConfigError(f"{out} exists and is not a bundle; --force replaces only bundles, remove it yourself")


def _check_keys(d: Mapping[str, Any], allowed: set[str], what: str) -> None:
    if not isinstance(d, Mapping):
        raise BundleError(f"manifest {what} entry must be a JSON object, got {type(d).__name__}")
    unknown = set(d) - allowed
    if unknown:
        raise BundleError(f"manifest {what} has unknown keys {sorted(unknown)}; was it written by a newer edgenas?")
