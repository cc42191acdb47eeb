"""Does `edgenas bench` measure what a plain ONNX Runtime loop measures? One model, one process.

Builds a MobileNetV3-Small-like ONNX (torchvision architecture, random weights, nothing
downloaded) unless --onnx is given, wraps it with `edgenas bundle create`, then alternates, for
--rounds rounds: edgenas's measure_latency (OrtBackend) and an independent loop over
onnxruntime.InferenceSession.run timed with time.perf_counter, same threads, same input.
Rounds are short and alternate which side goes first, so that load from other processes on a
shared machine hits both sides alike. Prints each round's medians side by side with their ratio,
then the median over rounds of each and the median of the per-round ratios (the goal is
|ratio - 1| <= 5 %), the overall minima (least sensitive to load), and, as a diagnostic, both
calls timed alternately call by call.

    .venv/bin/python benchmarks/bench_vs_plain_ort.py [--runs 40] [--warmup 10] [--threads 1] [--rounds 16]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

from edgenas.runtime.backends.onnxruntime import OrtBackend
from edgenas.runtime.bench import measure_latency
from edgenas.runtime.cli_bundle import create_bundle


def export_model(path: Path, size: int) -> Path:
    import torch
    import torchvision

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v3_small(weights=None).eval()
    torch.onnx.export(model, (torch.randn(1, 3, size, size),), str(path), input_names=["input"],
                      output_names=["logits"], opset_version=17, dynamo=False)
    return path


def plain_session(onnx: Path, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    return ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])


def plain_loop(onnx: Path, x: np.ndarray, threads: int, runs: int, warmup: int) -> tuple[float, float]:
    sess = plain_session(onnx, threads)
    feed = {sess.get_inputs()[0].name: x}
    for _ in range(warmup):
        sess.run(None, feed)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        sess.run(None, feed)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), min(times)


def interleaved(be: OrtBackend, onnx: Path, x: np.ndarray, threads: int, runs: int) -> tuple[float, float]:
    """Diagnostic: the two calls alternate call by call, so machine load hits both equally."""
    sess = plain_session(onnx, threads)
    feed = {sess.get_inputs()[0].name: x}
    a, b = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        be.infer(x)
        a.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        sess.run(None, feed)
        b.append(time.perf_counter() - t0)
    return statistics.median(a) * 1000, statistics.median(b) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", type=Path, default=None)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=16)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        onnx = a.onnx or export_model(Path(tmp) / "mnv3s.onnx", a.size)
        bundle = create_bundle(onnx, Path(tmp) / "bundle", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
        ours, plain = [], []
        with OrtBackend(bundle, threads=a.threads) as be:
            x = be.example_input()
            info = be.info()
            for r in range(a.rounds):
                order = ("ours", "plain") if r % 2 == 0 else ("plain", "ours")
                for which in order:
                    if which == "ours":
                        r = measure_latency(be, runs=a.runs, warmup=a.warmup, x=x)
                        ours.append((r["p50_ms"], r["min_ms"]))
                    else:
                        plain.append(plain_loop(onnx, x, a.threads, a.runs, a.warmup))
            inter = interleaved(be, onnx, x, a.threads, a.runs * 2)
    print(f"model {onnx.name if a.onnx else 'mobilenet_v3_small (random weights)'} input {list(x.shape)}, "
          f"{info['device']}, onnxruntime {ort.__version__}, threads {a.threads}, "
          f"{a.runs} runs + {a.warmup} warm-up per measurement")
    print(f"{'round':>6} {'edgenas p50':>12} {'plain p50':>10} {'ratio':>6} {'edgenas min':>12} {'plain min':>10} {'ratio':>6}")
    for i, ((o, omin), (p, pmin)) in enumerate(zip(ours, plain, strict=True)):
        print(f"{i:>6} {o:>12.3f} {p:>10.3f} {o / p:>6.3f} {omin:>12.3f} {pmin:>10.3f} {omin / pmin:>6.3f}")
    mo, mp = statistics.median(o for o, _ in ours), statistics.median(p for p, _ in plain)
    ratio = statistics.median(o / p for (o, _), (p, _) in zip(ours, plain, strict=True))
    lo, lp = min(m for _, m in ours), min(m for _, m in plain)
    verdict = "within 5 %" if abs(ratio - 1) <= 0.05 else "OUTSIDE 5 %"
    print(f"{'median':>6} {mo:>12.3f} {mp:>10.3f} {ratio:>6.3f} {lo:>12.3f} {lp:>10.3f} {lo / lp:>6.3f}"
          f"   (p50 ratio = median of per-round ratios: {verdict}; min columns: overall minimum)")
    print(f"interleaved call by call ({a.runs * 2} each): edgenas infer p50 {inter[0]:.3f} ms, plain run p50 "
          f"{inter[1]:.3f} ms, ratio {inter[0] / inter[1]:.3f}")


if __name__ == "__main__":
    main()
