"""Predictor quality: RMSE, MAPE, Kendall tau, Spearman, share within ±5 % / ±10 % (nn-Meter's metric set)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from edgenas.search.latency.errors import LatencyError

METRICS = ("n", "rmse_ms", "mape_pct", "kendall_tau", "spearman", "within_5pct", "within_10pct")


def metrics(measured_ms: np.ndarray, predicted_ms: np.ndarray) -> dict[str, float]:
    from scipy.stats import kendalltau, spearmanr

    y, p = np.asarray(measured_ms, dtype=np.float64), np.asarray(predicted_ms, dtype=np.float64)
    if y.shape != p.shape or len(y) < 2:
        raise LatencyError(f"need at least two measured/predicted pairs of the same length, got {y.shape} {p.shape}")
    rel = np.abs(p - y) / y
    return {
        "n": int(len(y)),
        "rmse_ms": float(np.sqrt(np.mean((p - y) ** 2))),
        "mape_pct": float(100 * rel.mean()),
        "kendall_tau": float(kendalltau(y, p).statistic),
        "spearman": float(spearmanr(y, p).statistic),
        "within_5pct": float((rel <= 0.05).mean()),
        "within_10pct": float((rel <= 0.10).mean()),
    }


def format_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    """A plain-text table, one line per method, the metrics side by side."""
    head = f"{'method':<16}{'n':>6}{'RMSE ms':>10}{'MAPE %':>9}{'tau':>8}{'rho':>8}{'±5 %':>8}{'±10 %':>8}"
    lines = [head, "-" * len(head)]
    for name, m in rows.items():
        lines.append(f"{name:<16}{m['n']:>6d}{m['rmse_ms']:>10.4f}{m['mape_pct']:>9.2f}{m['kendall_tau']:>8.3f}"
                     f"{m['spearman']:>8.3f}{100 * m['within_5pct']:>7.1f}%{100 * m['within_10pct']:>7.1f}%")
    return "\n".join(lines)
