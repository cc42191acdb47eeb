"""Inference backends behind one interface (see base.Backend)."""

from edgenas.runtime.backends.base import Backend, open_backend

__all__ = ["Backend", "open_backend"]
