"""Predicted-vs-measured scatter with the ±10 % band (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from edgenas.runtime._io import atomic_write_bytes


def scatter_png(path: str | Path, measured_ms: np.ndarray, predictions: Mapping[str, np.ndarray],
                title: str, measured_label: str = "latency_p50_ms") -> Path:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    y = np.asarray(measured_ms, dtype=np.float64)
    lo, hi = float(y.min()) * 0.8, float(y.max()) * 1.2
    for p in predictions.values():
        lo, hi = min(lo, float(np.min(p)) * 0.95), max(hi, float(np.max(p)) * 1.05)
    fig, ax = plt.subplots(figsize=(6, 6), dpi=110)
    line = np.array([lo, hi])
    ax.fill_between(line, line * 0.9, line * 1.1, color="tab:green", alpha=0.15, label="±10 %")
    ax.plot(line, line, color="black", lw=0.8)
    for (name, p), marker in zip(predictions.items(), ("o", "s", "^", "x"), strict=False):
        ax.scatter(y, p, s=10, marker=marker, alpha=0.7, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel(f"measured {measured_label}" + (" (ms)" if measured_label.endswith("_ms") else ""), fontsize=8)
    ax.set_ylabel("predicted (ms)")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())
