"""Runtime overhead benchmark: does the live pipeline add almost nothing, and is its memory flat?

In one run, on a generated model of a few ms (ONNX Runtime CPU, 1 intra-op thread):

(a) bare backend FPS (``edgenas.runtime.bench.measure_latency``, what ``edgenas bench`` reports)
    beside the live pipeline's FPS (``edgenas run`` loop: capture thread + newest-frame slot +
    prepare + infer + statistics) on the synthetic source producing frames faster than the model
    consumes them. Goal: live / bare >= 0.95.
(b) the live loop for ``--memory-duration`` s (default 300) with inference slower than capture,
    sampling this process's RSS (/proc/self/status VmRSS); prints start / end / max RSS and the
    slope in MB per minute (goal: flat), and saves ``rss.png`` and ``runtime_overhead.json``.

    python benchmarks/runtime_overhead.py --out runs/bench-runtime [--duration 20] [--memory-duration 300]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from edgenas.runtime._io import atomic_write_json
from edgenas.runtime.backends.onnxruntime import OrtBackend
from edgenas.runtime.bench import measure_latency
from edgenas.runtime.bundle import Bundle, Preprocessing, TensorSpec, write_bundle
from edgenas.runtime.live import LiveConfig, LiveRun
from edgenas.runtime.sources.synthetic import SyntheticSource

SIZE_HW = (112, 112)
CLASSES = 10


def build_model(path: Path, channels: int = 32, blocks: int = 4, seed: int = 0) -> Path:
    """A small conv net: stem conv s2 + ``blocks`` 3x3 convs at 56x56 + GAP + FC; a few ms on one core."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def weight(name: str, *shape: int) -> Any:
        fan_in = int(np.prod(shape[1:])) or 1
        return numpy_helper.from_array((rng.normal(0, 1, shape) / np.sqrt(fan_in)).astype(np.float32), name)

    inits, nodes, x = [], [], "input"
    for i in range(blocks + 1):
        cin, stride = (3, 2) if i == 0 else (channels, 1)
        inits += [weight(f"w{i}", channels, cin, 3, 3), weight(f"b{i}", channels)]
        nodes += [helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1], strides=[stride] * 2),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        x = f"r{i}"
    inits += [weight("fc_w", CLASSES, channels), weight("fc_b", CLASSES)]
    nodes += [helper.make_node("GlobalAveragePool", [x], ["g"]), helper.make_node("Flatten", ["g"], ["f"]),
              helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], transB=1)]
    graph = helper.make_graph(
        nodes, "overhead_bench", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, *SIZE_HW])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, CLASSES])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    return path


def make_bundle(out: Path) -> Bundle:
    onnx_path = build_model(out / "model.onnx")
    return write_bundle(
        out / "bundle", name="overhead-bench", model_file="model.onnx", model_format="onnx",
        files={"model.onnx": ("model", onnx_path)}, inputs=[TensorSpec("input", (1, 3, *SIZE_HW))],
        outputs=[TensorSpec("logits", (1, CLASSES))], preprocessing=Preprocessing(size_hw=SIZE_HW),
        classes=[f"class{i}" for i in range(CLASSES)], overwrite=True)


def live_fps(backend: OrtBackend, duration: float, capture_fps: float | None,
             size_hw: tuple[int, int] = SIZE_HW) -> dict[str, Any]:
    source = SyntheticSource(size_hw, fps=capture_fps, seed=0)
    return LiveRun(backend, source, LiveConfig(duration_s=duration, report_interval_s=3600),
                   on_report=lambda r: None).run()


def overhead(bundle: Bundle, duration: float, rounds: int) -> dict[str, Any]:
    """Alternate short bare / live segments of about ``duration`` s each and compare them pairwise.

    The machine may be shared: noise from other processes changes on a scale of seconds, so short
    interleaved pairs see nearly the same conditions, and the median of the pair ratios is robust.
    """
    backend = OrtBackend(bundle, threads=1)
    probe = measure_latency(backend, runs=50, warmup=20)
    runs = max(100, int(duration * probe["fps"]))  # a bare segment as long as a live one
    rows: list[dict[str, Any]] = []
    for r in range(rounds):
        c0 = time.process_time()
        b = measure_latency(backend, runs=runs, warmup=10)
        c1 = time.process_time()
        capture = 2.0 * float(b["fps"])  # frames arrive twice as fast as the model takes them
        s = live_fps(backend, duration, capture)
        c2 = time.process_time()
        s_free = live_fps(backend, duration, None)  # capture unthrottled: the worst case for the CPU
        rows.append({"bare_fps": float(b["fps"]), "bare_p50_ms": b["p50_ms"], "live_fps": float(s["fps"]),
                     "live_p50_ms": s["p50_ms"], "live_dropped": s["dropped"], "capture_fps": capture,
                     "live_unthrottled_fps": float(s_free["fps"]), "unthrottled_dropped": s_free["dropped"],
                     # CPU time of the whole process per inferred frame (all threads, capture included):
                     "bare_cpu_ms_per_frame": (c1 - c0) * 1e3 / (runs + 10),
                     "live_cpu_ms_per_frame": (c2 - c1) * 1e3 / max(s["frames"], 1)})
        row = rows[-1]
        print(f"  round {r + 1:2d}/{rounds}: bare {row['bare_fps']:7.1f} fps (p50 {b['p50_ms']:.3f} ms, "
              f"{row['bare_cpu_ms_per_frame']:.3f} CPU ms/frame) | live {row['live_fps']:7.1f} fps (p50 "
              f"{s['p50_ms']:.3f} ms, {row['live_cpu_ms_per_frame']:.3f} CPU ms/frame, capture {capture:.0f}/s, "
              f"dropped {s['dropped']}) | ratio {row['live_fps'] / row['bare_fps']:.3f} | unthrottled capture "
              f"{row['live_unthrottled_fps']:7.1f} fps", flush=True)
    backend.close()
    med = statistics.median
    return {"rows": rows, "runs_per_bare_segment": runs, "live_segment_s": duration, "rounds": rounds,
            "bare_fps_median": med(r["bare_fps"] for r in rows), "live_fps_median": med(r["live_fps"] for r in rows),
            "live_unthrottled_fps_median": med(r["live_unthrottled_fps"] for r in rows),
            "ratio_median": med(r["live_fps"] / r["bare_fps"] for r in rows),
            "ratio_unthrottled_median": med(r["live_unthrottled_fps"] / r["bare_fps"] for r in rows),
            "bare_cpu_ms_per_frame_median": med(r["bare_cpu_ms_per_frame"] for r in rows),
            "live_cpu_ms_per_frame_median": med(r["live_cpu_ms_per_frame"] for r in rows),
            "cpu_ratio_median": med(r["bare_cpu_ms_per_frame"] / r["live_cpu_ms_per_frame"] for r in rows),
            "load_average_1m": os.getloadavg()[0], "cpu_count": os.cpu_count()}


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def memory(bundle: Bundle, duration: float, every: float) -> dict[str, Any]:
    """The live loop for ``duration`` s, camera-sized frames captured faster than inference; RSS samples."""
    backend = OrtBackend(bundle, threads=1)
    bare_fps = float(measure_latency(backend, runs=200, warmup=20)["fps"])
    live = LiveRun(backend, SyntheticSource((480, 640), fps=3.0 * bare_fps, seed=1),
                   LiveConfig(duration_s=duration, report_interval_s=10), on_report=lambda r: None)
    samples: list[tuple[float, float, int, int]] = []
    done = threading.Event()

    def sample() -> None:
        t0 = time.monotonic()
        with tqdm(total=int(duration), unit="s", disable=not sys.stderr.isatty(), desc="memory run") as bar:
            while not done.wait(every if samples else 0.0):
                t = time.monotonic() - t0
                samples.append((t, rss_mb(), live.frames, live.slot.dropped))
                bar.update(int(t) - bar.n)
            samples.append((time.monotonic() - t0, rss_mb(), live.frames, live.slot.dropped))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    summary = live.run()
    done.set()
    sampler.join()
    backend.close()
    t = np.array([s[0] for s in samples])
    rss = np.array([s[1] for s in samples])
    warm = t >= min(30.0, duration / 5)  # skip start-up (allocator and ORT arenas settle)
    slope = float(np.polyfit(t[warm], rss[warm], 1)[0] * 60.0) if warm.sum() >= 2 else float("nan")
    late = t >= t[-1] / 2  # a one-time step (the allocator keeping one more frame buffer) is not a trend
    slope_late = float(np.polyfit(t[late], rss[late], 1)[0] * 60.0) if late.sum() >= 2 else float("nan")
    return {"duration_s": duration, "sample_every_s": every, "capture_fps": 3.0 * bare_fps,
            "rss_start_mb": float(rss[0]), "rss_end_mb": float(rss[-1]), "rss_max_mb": float(rss.max()),
            "slope_mb_per_min_after_warmup": slope, "slope_mb_per_min_second_half": slope_late,
            "rss_growth_second_half_mb": float(rss[-1] - rss[late][0]), "frames": summary["frames"], "dropped": summary["dropped"],
            "live_fps": summary["fps"], "samples": [list(s) for s in samples]}


def plot_rss(mem: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s[0] / 60.0 for s in mem["samples"]]
    rss = [s[1] for s in mem["samples"]]
    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=100)
    ax.plot(t, rss, lw=1.2)
    ax.set_xlabel("minutes")
    ax.set_ylabel("RSS (MB)")
    ax.set_ylim(0, max(rss) * 1.15)
    ax.set_title(f"edgenas live loop RSS: {mem['slope_mb_per_min_after_warmup']:+.3f} MB/min after 30 s, "
                 f"{mem['slope_mb_per_min_second_half']:+.3f} in the 2nd half", fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--duration", type=float, default=4.0, help="seconds per bare / live segment of (a)")
    ap.add_argument("--rounds", type=int, default=10, help="bare / live pairs in (a)")
    ap.add_argument("--memory-duration", type=float, default=300.0)
    ap.add_argument("--sample-every", type=float, default=2.0)
    args = ap.parse_args(argv)
    bundle = make_bundle(args.out)
    print(f"(a) overhead: {args.rounds} pairs of bare measure_latency / live loop segments of ~{args.duration:g} s")
    over = overhead(bundle, args.duration, args.rounds)
    print(f"    medians: bare backend {over['bare_fps_median']:.1f} fps | live pipeline {over['live_fps_median']:.1f}"
          f" fps | live/bare (median of pairs) {over['ratio_median']:.3f} (goal >= 0.95) | unthrottled capture "
          f"{over['live_unthrottled_fps_median']:.1f} fps, ratio {over['ratio_unthrottled_median']:.3f}")
    print(f"    CPU per frame: bare {over['bare_cpu_ms_per_frame_median']:.3f} ms | live "
          f"{over['live_cpu_ms_per_frame_median']:.3f} ms | bare/live {over['cpu_ratio_median']:.3f} | load average "
          f"{over['load_average_1m']:.1f} on {over['cpu_count']} CPUs (a shared machine makes wall-clock FPS noisy)")
    print(f"(b) memory: live loop {args.memory_duration:g} s, 640x480 frames, inference slower than capture")
    mem = memory(bundle, args.memory_duration, args.sample_every)
    print(f"    RSS start {mem['rss_start_mb']:.1f} MB | end {mem['rss_end_mb']:.1f} MB | max {mem['rss_max_mb']:.1f} MB"
          f" | slope {mem['slope_mb_per_min_after_warmup']:+.3f} MB/min after 30 s, "
          f"{mem['slope_mb_per_min_second_half']:+.3f} MB/min over the second half "
          f"({mem['rss_growth_second_half_mb']:+.2f} MB) | frames {mem['frames']}, "
          f"dropped {mem['dropped']}, {mem['live_fps']} fps")
    plot_rss(mem, args.out / "rss.png")
    atomic_write_json(args.out / "runtime_overhead.json", {"overhead": over, "memory": mem})
    print(f"wrote {args.out / 'runtime_overhead.json'} and {args.out / 'rss.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
