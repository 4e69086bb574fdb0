"""Errors the sentiment package raises to its callers."""

from __future__ import annotations

__all__ = ["ModelLoadError"]


class ModelLoadError(RuntimeError):
    """A sentiment model that cannot be loaded. The message names the model and
    says what to do (go online once, point to a local folder, reinstall, ...)."""
