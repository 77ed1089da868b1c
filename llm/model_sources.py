"""The pretrained models that can be fetched by name (``llm/model_sources.yaml``), validated."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from configs.settings import resolve_path

SOURCES_FILE = Path(__file__).with_name("model_sources.yaml")


class WheelPart(BaseModel):
    """One wheel of a split file and the archive member that holds its bytes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    package: str
    version: str
    member: str


class GgufSource(BaseModel):
    """A GGUF model split over wheels, in order, with the size and hash of the whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    license: str
    parts: list[WheelPart] = Field(min_length=1)
    size: int = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    tie_word_embeddings: bool = Field(
        description="Save lm_head tied to the embeddings (drop the GGUF's separate copy)."
    )


@cache
def model_sources(path: Path = SOURCES_FILE) -> dict[str, GgufSource]:
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {name: GgufSource.model_validate(entry) for name, entry in raw.items()}


def cached_model_dir(name: str, cache_dir: str | Path) -> Path:
    return resolve_path(cache_dir) / name


def local_model_path(model_path: str, cache_dir: str) -> str:
    """The folder a model path names: a model fetched by name lives in the cache."""
    if model_path in model_sources() and not resolve_path(model_path).exists():
        return str(cached_model_dir(model_path, cache_dir))
    return model_path


def fetched_name(folder: Path, cache_dir: str | Path) -> str | None:
    """The name of the fetched model whose cache folder ``folder`` is, if it is one."""
    real = folder.resolve()
    for name in model_sources():
        if cached_model_dir(name, cache_dir).resolve() == real:
            return name
    return None
