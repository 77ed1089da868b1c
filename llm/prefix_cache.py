"""Reuse of prompt keys and values across requests that share a prefix (the system prompt and
tool list; an earlier round of the same conversation).

Every prompt is kept as one entry, least recently used evicted past a byte budget. A new prompt
starts from the entry with which it shares the longest prefix (cut to that length) and computes
only the rest, at least its last token, whose logits give the reply's first token. The rows of a
batch are then laid side by side, each row's keys and values left-padded to the widest
(``decode_batch``). Entries are per adapter (a LoRA on k/v changes them) and belong to
one loaded model.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache

from llm.kv_cache import LayerKV  # here one row: [1, kv_heads, tokens, head_dim]


@dataclass
class _Entry:
    ids: torch.Tensor  # the prefix's token ids, 1-D
    layers: LayerKV
    nbytes: int


class PrefixCache:
    """A byte-bounded LRU of prompt-prefix keys and values, keyed by adapter and token ids."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str | None, tuple[int, ...]], _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.reused_tokens = self.computed_tokens = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "enabled": self.enabled,
                "entries": len(self._entries),
                "bytes": self._bytes,
                "max_bytes": self.max_bytes,
                "hits": self.hits,
                "misses": self.misses,
                "reused_tokens": self.reused_tokens,
                "computed_tokens": self.computed_tokens,
            }

    def longest(self, adapter: str | None, ids: torch.Tensor) -> tuple[LayerKV | None, int]:
        """The entry sharing the longest prefix with ``ids`` and that length (None, 0 if none)."""
        best: tuple[tuple[str | None, tuple[int, ...]] | None, int] = (None, 0)
        with self._lock:
            for key, entry in self._entries.items():
                if key[0] != adapter:
                    continue
                width = min(len(entry.ids), len(ids))
                differ = (entry.ids[:width] != ids[:width]).nonzero()
                shared = int(differ[0]) if len(differ) else width
                if shared > best[1]:
                    best = (key, shared)
            if best[0] is None:
                return None, 0
            self._entries.move_to_end(best[0])
            return self._entries[best[0]].layers, best[1]

    def put(self, adapter: str | None, ids: torch.Tensor, layers: LayerKV) -> None:
        nbytes = sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in layers)
        if nbytes > self.max_bytes:
            return
        key = (adapter, tuple(ids.tolist()))
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return
            self._entries[key] = _Entry(ids, layers, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= evicted.nbytes

    def drop_adapter(self, adapter: str) -> None:
        """Forget an adapter's entries (it was detached; a new one may take its name)."""
        with self._lock:
            for key in [key for key in self._entries if key[0] == adapter]:
                self._bytes -= self._entries.pop(key).nbytes

    def count(self, reused: int, computed: int) -> None:
        with self._lock:
            self.hits += reused > 0
            self.misses += reused == 0
            self.reused_tokens += reused
            self.computed_tokens += computed


def _as_cache(layers: LayerKV) -> DynamicCache:
    cache = DynamicCache()
    for index, (keys, values) in enumerate(layers):
        cache.update(keys, values, index)
    return cache


def row_prefill(
    model: Any, cache: PrefixCache, adapter: str | None, prompt: list[int], forward_kwargs: dict
) -> tuple[LayerKV, torch.Tensor]:
    """Keys and values of ``prompt`` and the logits after its last token: the longest cached
    prefix (never all of it: the last token is computed for its logits), extended by a forward
    pass over the rest (then cached itself). ``forward_kwargs`` selects the row's adapter. A
    disabled cache computes the whole prompt and counts nothing."""
    ids = torch.tensor(prompt)
    layers, shared = cache.longest(adapter, ids) if cache.enabled else (None, 0)
    shared = min(shared, len(ids) - 1)
    start = [(k[:, :, :shared], v[:, :, :shared]) for k, v in layers] if layers else []
    if cache.enabled:
        cache.count(shared, len(ids) - shared)
    past = _as_cache(start) if start else DynamicCache()
    device = next(model.parameters()).device
    output = model(
        input_ids=ids[shared:].unsqueeze(0).to(device),
        cache=past,
        use_cache=True,
        logits_to_keep=1,
        **forward_kwargs,
    )
    full = [(layer.keys, layer.values) for layer in past.layers]
    cache.put(adapter, ids, full)
    return full, output.logits[0, -1].float()
