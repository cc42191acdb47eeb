"""One root exception for the whole toolchain; the CLI turns these into exit code 1."""

from __future__ import annotations


class EdgeNasError(Exception):
    """Base of every error edgenas raises on purpose. The message says what is wrong and the fix."""


class BundleError(EdgeNasError):
    """A bundle directory or its manifest is missing, malformed, tampered with or inconsistent."""


class ModelError(EdgeNasError):
    """A model file cannot be loaded or does not match what its manifest says."""


class SourceError(EdgeNasError):
    """A frame source (camera, file, stream) cannot be opened or stopped delivering frames."""


class BackendError(EdgeNasError):
    """An inference backend is unavailable (SDK missing, device absent) or failed."""


class ConfigError(EdgeNasError):
    """A configuration file or option value is invalid."""
