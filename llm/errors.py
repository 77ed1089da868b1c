"""Errors of the shared model code; serve_app maps them to HTTP statuses in one table."""

from __future__ import annotations


class ModelLoadError(ValueError):
    """The requested model cannot be loaded; the message says which file or setting is wrong."""


class ModelPathNotFoundError(ModelLoadError):
    """model_path names no folder."""


class ModelFetchError(ModelLoadError):
    """A named model could not be fetched or converted; nothing half-written is left behind."""
