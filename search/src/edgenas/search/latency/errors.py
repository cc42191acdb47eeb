"""Errors of the latency part; all are EdgeNasError, so the CLI exits 1 with the message."""

from __future__ import annotations

from edgenas.runtime.errors import EdgeNasError


class LatencyError(EdgeNasError):
    """A latency data set, target or measurement is missing, malformed or inconsistent."""


class PredictorError(EdgeNasError):
    """A latency predictor cannot be trained, loaded or used as asked."""
