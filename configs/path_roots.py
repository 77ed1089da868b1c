"""Which folders a client may point the app at: model folders and datasets stay under known roots.

``/model/load`` (and a LoRA adapter's base) may only name folders under the project's ``models/``,
``output.dir`` (trained adapters), ``model.cache_dir`` (models fetched by name) or
``model.allowed_roots``; a training job's base model likewise,
and its dataset only a file under ``output.dir`` or ``data.allowed_roots``. Paths are compared after
resolving symlinks, so a link inside a root that leads elsewhere is refused too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from configs.settings import PROJECT_ROOT, AppConfig, resolve_path


class PathNotAllowedError(Exception):
    """A path a client sent lies outside the folders the app may read from."""


def model_roots(config: AppConfig) -> list[Path]:
    """Folders model paths may lie under."""
    roots = [PROJECT_ROOT / "models", resolve_path(config.output.dir)]
    roots.append(resolve_path(config.model.cache_dir))
    return roots + [resolve_path(root) for root in config.model.allowed_roots]


def dataset_roots(config: AppConfig) -> list[Path]:
    """Folders dataset files may lie under."""
    return [resolve_path(config.output.dir)] + [
        resolve_path(root) for root in config.data.allowed_roots
    ]


def confine(path: str, roots: Sequence[Path], what: str, setting: str) -> Path:
    """The real path of ``path`` (project-relative if relative) when it lies under a root;
    PathNotAllowedError naming the roots and the setting that adds one otherwise."""
    try:
        real = resolve_path(path).resolve()
    except (OSError, RuntimeError, ValueError) as error:
        raise PathNotAllowedError(f"{what} {path!r} cannot be resolved: {error}") from error
    for root in roots:
        real_root = root.resolve()
        if real == real_root or real_root in real.parents:
            return real
    allowed = ", ".join(str(root) for root in roots)
    raise PathNotAllowedError(
        f"{what} {path!r} is outside the allowed folders ({allowed}); add a folder to {setting}"
    )
