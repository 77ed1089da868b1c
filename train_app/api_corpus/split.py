"""The corpus split by provider: whole providers held out for evaluation, never trained on.

A provider is held out when a hash of the seed and its name falls below ``eval_provider_share``:
the choice depends on nothing else, so it stays the same as providers are added or capped
differently. Tools are grouped by the API they belong to, the set a row offers together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from configs.settings import CorpusConfig
from train_app.api_corpus.entries import CorpusEntry


@dataclass(frozen=True)
class ToolGroup:
    """The operations of one API, as tools."""

    provider: str
    api: str
    api_title: str
    entries: tuple[CorpusEntry, ...]

    @property
    def tools(self) -> list[dict[str, Any]]:
        return [entry.tool for entry in self.entries]


@dataclass(frozen=True)
class CorpusSplit:
    train: tuple[ToolGroup, ...]
    eval: tuple[ToolGroup, ...]

    @property
    def eval_providers(self) -> set[str]:
        return {group.provider for group in self.eval}


def held_out(provider: str, share: float, seed: int = 0) -> bool:
    """Whether ``provider`` is among the evaluation providers."""
    digest = hashlib.sha256(f"{seed}:{provider}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def split_corpus(entries: Iterable[CorpusEntry], config: CorpusConfig) -> CorpusSplit:
    """Training and evaluation tool groups, one per API, in corpus order."""
    groups: dict[str, list[CorpusEntry]] = {}
    for entry in entries:
        groups.setdefault(entry.api, []).append(entry)
    train: list[ToolGroup] = []
    evaluation: list[ToolGroup] = []
    for api, members in groups.items():
        first = members[0]
        group = ToolGroup(first.provider, api, first.api_title, tuple(members))
        held = held_out(first.provider, config.eval_provider_share, config.split_seed)
        (evaluation if held else train).append(group)
    return CorpusSplit(tuple(train), tuple(evaluation))
