"""The per-block lookup table (LUT): measure every distinct block configuration alone, once.

A network is cut into its stem (conv+BN+swish), its MBConv blocks (each with its residual) and its
head (final expand, pool, feature mix, classifier). A block's key holds everything its cost
depends on (channels, hidden width, kernel, stride, SE width, input size); blocks with the same key
are measured once, as a one-block ONNX model (legacy TorchScript exporter, opset 17) run by ONNX
Runtime with the target's settings (intra-op threads, warm-up, runs; p50). The LUT file is
rewritten atomically after every new entry, so building it resumes like a measurement does.
"""

from __future__ import annotations

import functools
import io
import logging
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from edgenas.runtime._io import atomic_write_json
from edgenas.search.latency.baselines import LUT_FORMAT, LookupTable

log = logging.getLogger(__name__)
BlockSpec = tuple[str, Callable[[], Any], tuple[int, ...]]  # key, module factory, input shape


def block_specs(space: Any, arch: Any, num_classes: int) -> list[BlockSpec]:
    """The blocks of ``arch`` in order: (key, factory of the torch module, its input shape)."""
    from torch import nn

    from edgenas.search.ops import ConvBn
    from edgenas.search.static import Head, MBBlock, build_plan

    p = build_plan(space, arch, num_classes)
    specs: list[BlockSpec] = [(f"stem:c{p.stem_c}:k{p.stem_kernel}:s{p.stem_stride}:r{p.resolution}",
                               lambda: ConvBn(3, p.stem_c, p.stem_kernel, p.stem_stride),
                               (1, 3, p.resolution, p.resolution))]
    for b in p.blocks:
        key = (f"mb:i{b.c_in}:o{b.c_out}:h{b.hidden}:e{int(b.expand)}:k{b.kernel}:s{b.stride}:se{b.se_mid}"
               f":r{b.size_in}")
        specs.append((key, functools.partial(MBBlock, b), (1, b.c_in, b.size_in, b.size_in)))
    specs.append((f"head:i{p.last_c}:f{p.final_c}:h{p.head_c}:r{p.last_size}:n{p.num_classes}",
                   lambda: nn.Sequential(Head(p.last_c, p.final_c, p.head_c), nn.Linear(p.head_c, p.num_classes)),
                   (1, p.last_c, p.last_size, p.last_size)))
    return specs


def block_keys(space: Any, arch: Any, num_classes: int) -> list[str]:
    return [k for k, _, _ in block_specs(space, arch, num_classes)]


def time_block(factory: Callable[[], Any], shape: tuple[int, ...], *, threads: int, runs: int,
               warmup: int) -> dict[str, float]:
    """Export one block to ONNX and time it in ONNX Runtime: p50/mean/std in ms."""
    import torch

    from edgenas.runtime.backends.onnxruntime import open_session
    from edgenas.runtime.bench import latency_stats, time_calls

    module = factory().eval()
    x = torch.randn(*shape)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (x,), buf, opset_version=17, dynamo=False,  # type: ignore[arg-type]
                          input_names=["x"])
    sess = open_session(buf.getvalue(), threads)
    stats = latency_stats(time_calls(lambda a: sess.run(None, {"x": a}), x.numpy(), runs, warmup, "block"))
    return {k: stats[k] for k in ("p50_ms", "mean_ms", "std_ms")}


def build_lut(space: Any, archs: Iterable[Any], out: str | Path, *, num_classes: int, target: str,
              threads: int = 1, runs: int = 50, warmup: int = 10, progress: bool = True) -> dict[str, Any]:
    """Measure every block of ``archs`` missing from the LUT at ``out``; returns a summary."""
    from tqdm import tqdm

    out = Path(out)
    settings = {"threads": threads, "runs": runs, "warmup": warmup, "exporter": "torchscript opset 17"}
    if out.exists():
        data = LookupTable.load(out, space=space.name, target=target).data
        if data.get("settings") != settings:
            from edgenas.search.latency.errors import LatencyError

            raise LatencyError(f"{out} was measured with {data.get('settings')}, not {settings}; use another --out")
    else:
        data = {"format_version": LUT_FORMAT, "space": space.name, "target": target, "num_classes": num_classes,
                "settings": settings, "build_seconds": 0.0, "entries": {}}
    todo: dict[str, BlockSpec] = {}
    n_archs = 0
    for arch in archs:
        n_archs += 1
        for spec in block_specs(space, arch, num_classes):
            if spec[0] not in data["entries"]:
                todo.setdefault(spec[0], spec)
    log.info("%d architectures, %d distinct blocks to measure (%d in the table)", n_archs, len(todo),
             len(data["entries"]))
    t0 = time.perf_counter()
    bar = tqdm(list(todo.values()), desc="LUT blocks", unit="block", disable=not (progress and sys.stderr.isatty()))
    for key, factory, shape in bar:
        t = time.perf_counter()
        data["entries"][key] = {**time_block(factory, shape, threads=threads, runs=runs, warmup=warmup),
                                "input_shape": list(shape)}
        data["build_seconds"] = round(data["build_seconds"] + time.perf_counter() - t, 3)
        atomic_write_json(out, data)
    if not todo and not out.exists():
        atomic_write_json(out, data)
    return {"entries": len(data["entries"]), "measured": len(todo), "seconds": round(time.perf_counter() - t0, 2),
            "total_build_seconds": data["build_seconds"], "out": str(out)}
