"""Which converted operations the corpus keeps: near-identical ones once, and no more than a
provider's (and a vendor's) share, so a few giant APIs do not drown the rest.

Near-identical: within a provider, the same tool name with the same parameter names (an API's
other versions, GitHub Enterprise's copies of api.github.com, an operation served at two paths);
across providers, the same name, parameter names and description (one API published under two
domains, as nexmo.com and vonage.com are). The first one in the given order is kept.

Caps: at most ``max_operations_per_provider`` per provider, taken in turn from each of its APIs,
then at most ``max_operations_per_vendor`` per vendor (``aws`` for every ``aws:<service>``), taken
in turn from each of its providers. Within an API, operations with documented examples come
first, then the order of a fixed hash of the tool's name, so a cap keeps a spread of the API
rather than its first paths.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from itertools import zip_longest

from configs.settings import CorpusConfig
from train_app.api_corpus.entries import CorpusEntry

_WORDS = re.compile(r"[a-z0-9]+")


def apply_caps(entries: list[CorpusEntry], config: CorpusConfig) -> list[CorpusEntry]:
    """The entries within the provider cap, then within the vendor cap."""
    kept = cap(entries, _provider, _api, config.max_operations_per_provider)
    return cap(kept, _vendor, _provider, config.max_operations_per_vendor)


def vendor(provider: str) -> str:
    """``aws:sqs`` → ``aws``; an APIs.guru provider domain is its own vendor."""
    return provider.split(":", 1)[0]


def _provider(entry: CorpusEntry) -> str:
    return entry.provider


def _api(entry: CorpusEntry) -> str:
    return entry.api


def _vendor(entry: CorpusEntry) -> str:
    return vendor(entry.provider)


def dedupe(entries: Iterable[CorpusEntry]) -> list[CorpusEntry]:
    """The entries without near-identical repeats (see the module's docstring)."""
    in_provider: set[tuple] = set()
    anywhere: set[tuple] = set()
    kept = []
    for entry in entries:
        parameters = tuple(sorted(entry.tool["function"]["parameters"]["properties"]))
        words = " ".join(_WORDS.findall(entry.tool["function"]["description"].lower()))
        local, shared = (entry.provider, entry.name, parameters), (entry.name, parameters, words)
        if local in in_provider or shared in anywhere:
            continue
        in_provider.add(local)
        anywhere.add(shared)
        kept.append(entry)
    return kept


def cap(
    entries: list[CorpusEntry],
    group: Callable[[CorpusEntry], str],
    spread: Callable[[CorpusEntry], str],
    limit: int,
) -> list[CorpusEntry]:
    """At most ``limit`` entries per ``group``, taken in turn from each ``spread`` within it;
    the kept entries stay in their given order."""
    groups: dict[str, dict[str, list[int]]] = {}
    for index, entry in enumerate(entries):
        groups.setdefault(group(entry), {}).setdefault(spread(entry), []).append(index)
    chosen: set[int] = set()
    for parts in groups.values():
        queues = [sorted(part, key=lambda i: _order(entries[i])) for part in parts.values()]
        taken = [i for turn in zip_longest(*queues) for i in turn if i is not None]
        chosen.update(taken[:limit])
    return [entry for index, entry in enumerate(entries) if index in chosen]


def _order(entry: CorpusEntry) -> tuple[bool, bytes]:
    """Operations with documented examples first, then a fixed hash of the name."""
    return not entry.examples, hashlib.sha1(entry.id.encode()).digest()
