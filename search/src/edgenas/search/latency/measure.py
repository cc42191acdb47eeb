"""The resumable measuring loop: architectures in, one latency.csv row per architecture out.

Each row is written (atomically) as soon as it is measured; a rerun into the same directory skips
every arch_id already in the CSV, so an interrupted measurement continues where it stopped and no
architecture is measured twice. ``metadata.json`` says what was measured, how and where; a rerun
with other settings (space, target, runs, threads...) is refused instead of mixing measurements.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from edgenas.search.latency.dataset import (
    CSV_NAME,
    GENE_PREFIX,
    LatencyCsvWriter,
    read_metadata,
    write_metadata,
)
from edgenas.search.latency.errors import LatencyError
from edgenas.search.latency.targets import Target

log = logging.getLogger(__name__)
_COMPARED = ("space", "target", "target_settings", "num_classes")


def _cpu() -> str:
    try:
        from edgenas.runtime.backends.onnxruntime import cpu_model

        return cpu_model()
    except ImportError:
        return platform.processor() or platform.machine()


def base_metadata(space_name: str, target: Target, num_classes: int) -> dict[str, Any]:
    from edgenas.runtime.provenance import git_revision, tool_versions

    settings = {k: v for k, v in target.settings().items() if k not in ("target", "backend_info")}
    return {"space": space_name, "target": target.name, "target_settings": settings, "num_classes": num_classes,
            "latency": "batch 1, per-frame, milliseconds; latency_p50_ms is the median over `runs` timed runs "
                       "after `warmup` untimed ones (for hailo8l-estimate: 1000 / the HEF's bottleneck FPS)",
            "exporter": EXPORTER, "host": platform.node(), "cpu": _cpu(), "platform": platform.platform(),
            "tool_versions": tool_versions(), "git_revision": git_revision(Path(__file__).parent)}


def _check_resume(out: Path, meta: dict[str, Any]) -> dict[str, Any]:
    old = read_metadata(out / CSV_NAME)
    if old is None:
        return {"started_utc": _now(), "runs": []}
    diff = [k for k in _COMPARED if old.get(k) != meta.get(k)]
    if diff:
        raise LatencyError(f"{out} holds measurements with other {diff} ({ {k: old.get(k) for k in diff} }); "
                           "resume only with the same settings, or choose another --out")
    return {"started_utc": old.get("started_utc", _now()), "runs": list(old.get("runs", []))}


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """One measurement per output directory at a time: ``out/.lock`` holds the owner's pid."""
    lock = out / ".lock"
    for _ in range(2):  # second try after removing a stale lock
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            pid = int(lock.read_text().strip() or 0) if lock.is_file() else 0
            if pid and _alive(pid):
                raise LatencyError(f"{out} is being measured by process {pid}; wait for it or choose another --out") from None
            lock.unlink(missing_ok=True)
    else:
        raise LatencyError(f"cannot lock {out}; remove {lock} if no measurement is running")
    with os.fdopen(fd, "w") as fh:
        fh.write(str(os.getpid()))
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def measure_archs(archs: Sequence[tuple[str, Any]], space: Any, target: Target, out: str | Path, *,
                  num_classes: int, bundles: str | Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Measure every (arch_id, ArchConfig) not yet in ``out/latency.csv``; returns a summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with output_lock(out):
        try:
            return _measure_locked(archs, space, target, out, num_classes=num_classes, bundles=bundles,
                                   progress=progress)
        finally:
            shutil.rmtree(out / ".work", ignore_errors=True)  # exported networks (and the reference)


def _measure_locked(archs: Sequence[tuple[str, Any]], space: Any, target: Target, out: Path, *,
                    num_classes: int, bundles: str | Path | None, progress: bool) -> dict[str, Any]:
    from edgenas.search.flops import count_flops_params

    target.prepare(space, num_classes, out / ".work")
    meta = base_metadata(space.name, target, num_classes)
    meta.update(_check_resume(out, meta))
    writer = LatencyCsvWriter(out / CSV_NAME, space.gene_names)
    todo = [(aid, a) for aid, a in archs if aid not in writer.ids]
    log.info("%d architectures, %d already measured, %d to go", len(archs), len(archs) - len(todo), len(todo))
    run: dict[str, Any] = {"started_utc": _now(), "todo": len(todo), "done": 0}
    meta["runs"].append(run)
    write_metadata(out, {**meta, "n_rows": len(writer.ids), "complete": False})
    from tqdm import tqdm

    t0 = time.perf_counter()
    bar = tqdm(total=len(todo), desc=f"measure {target.name}", unit="arch",
               disable=not (progress and sys.stderr.isatty()))
    step = max(1, target.group_size)
    for start in range(0, len(todo), step):
        group = todo[start:start + step]
        rows = []
        for aid, arch in group:
            macs, params = count_flops_params(space, arch, num_classes)
            rows.append({"arch_id": aid, "resolution": arch.resolution, "macs": int(macs), "params": int(params),
                         **{GENE_PREFIX + g: v for g, v in zip(space.gene_names, space.encode(arch), strict=True)}})
        for row, measured in zip(rows, _measure_group(target, space, group, out, num_classes, bundles), strict=True):
            row.update(measured)
            writer.append(row)
            run["done"] += 1
        bar.update(len(group))
    bar.close()
    run.update(finished_utc=_now(), seconds=round(time.perf_counter() - t0, 2))
    meta["target_backend_info"] = getattr(target, "backend_info", None)
    if hasattr(target, "remeasured_groups"):
        run["remeasured_groups"] = target.remeasured_groups
    complete = all(aid in writer.ids for aid, _ in archs)
    write_metadata(out, {**meta, "n_rows": len(writer.ids), "complete": complete})
    return {"measured": run["done"], "skipped": len(archs) - len(todo), "rows": len(writer.ids),
            "seconds": run["seconds"], "out": str(out / CSV_NAME)}


def _measure_group(target: Target, space: Any, group: Sequence[tuple[str, Any]], out: Path, num_classes: int,
                   bundles: str | Path | None) -> list[dict[str, Any]]:
    """Measure one group of architectures (``target.group_size`` at most) together."""
    if target.needs == "none":
        return target.measure_group([(aid, None) for aid, _ in group])
    if target.needs == "hef":
        if bundles is None:
            raise LatencyError(f"target {target.name} measures compiled HEF bundles: pass --bundles DIR holding "
                               "one compiled bundle per arch_id (DIR/<arch_id>/manifest.json)")
        dirs = [Path(bundles) / aid for aid, _ in group]
        for d in dirs:
            if not d.is_dir():
                raise LatencyError(f"no compiled bundle {d} for {d.name}; compile it (edgenas compile) or drop the arch")
        return target.measure_group([(aid, d) for (aid, _), d in zip(group, dirs, strict=True)])
    works = [out / ".work" / aid for aid, _ in group]
    try:
        for (_, arch), work in zip(group, works, strict=True):
            shutil.rmtree(work, ignore_errors=True)
            export_for_latency(space, arch, work, num_classes)
        return target.measure_group([(aid, w) for (aid, _), w in zip(group, works, strict=True)])
    finally:
        for work in works:
            shutil.rmtree(work, ignore_errors=True)


def export_for_latency(space: Any, arch: Any, out: Path, num_classes: int, calib_images: int = 0) -> Path:
    """Export ``arch`` with untrained weights (latency does not depend on their values) as an ONNX bundle.

    The graph is what every deployable bundle holds: the static network (``build_static``, the class
    ``Supernet.extract`` returns) written by ``edgenas.search.export.export_onnx`` (TorchScript exporter,
    opset 11). Built directly rather than through ``export_bundle``, which builds the whole supernet
    and checks the export numerically: about half the time per architecture. ``calib_images`` > 0
    adds a ``calibration.npy`` of seeded random uint8 images, which ``edgenas compile hef`` needs
    (with untrained weights the quantization is meaningless anyway; the HEF is only timed).
    """
    import io
    import tempfile

    import numpy as np
    import torch

    from edgenas.runtime.bundle import Preprocessing, TensorSpec, write_bundle
    from edgenas.search.export import export_onnx
    from edgenas.search.static import build_static

    torch.manual_seed(0)
    r = arch.resolution
    with tempfile.TemporaryDirectory(prefix="edgenas-latency-") as tmp:
        onnx_path = Path(tmp) / "model.onnx"
        export_onnx(build_static(space, arch, num_classes).eval(), r, onnx_path, opset=11, verify=False)
        files: dict[str, tuple[str, Any]] = {"model.onnx": ("model", onnx_path)}
        if calib_images > 0:
            npy = io.BytesIO()
            np.save(npy, np.random.default_rng(0).integers(0, 256, (calib_images, r, r, 3)).astype(np.uint8))
            files["calibration.npy"] = ("calibration", npy.getvalue())
        write_bundle(out, name=arch.arch_id, model_file="model.onnx", model_format="onnx", files=files,
                     inputs=[TensorSpec("input", (1, 3, r, r))], outputs=[TensorSpec("logits", (1, num_classes))],
                     preprocessing=Preprocessing(size_hw=(r, r), mean_pixel=tuple(space.mean_pixel),
                                                 std_pixel=tuple(space.std_pixel)),
                     architecture={"space": space.name, "arch_id": arch.arch_id, "config": arch.to_dict()},
                     overwrite=True)
    return out


EXPORTER = "edgenas.search.static.build_static + edgenas.search.export.export_onnx (opset 11, random init)"
