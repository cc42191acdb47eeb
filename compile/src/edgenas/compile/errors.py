"""Errors of the compile part (all are EdgeNasError, so the CLI turns them into exit code 1)."""

from __future__ import annotations

from edgenas.runtime.errors import EdgeNasError


class CompileError(EdgeNasError):
    """A bundle cannot be checked, quantized or compiled for the requested target."""


class SdkMissingError(CompileError):
    """The Hailo Dataflow Compiler (``hailo_sdk_client``) or HailoRT is not installed here."""


class CalibrationError(CompileError):
    """The bundle's calibration sample is missing or does not match the model input."""
