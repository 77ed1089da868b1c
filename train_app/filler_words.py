"""A word from outside every phrasing, put into a training request where a word can stand.

A small model trained from scratch on the project's phrasings reads any word it has not seen in
one as a sign of another tool or of none: '想知道兰州此刻的天气' is answered in words because of
此刻, 'Europe/Madrid那边现在几点' copies 那边 into the zone. A request with one unrelated word put
in teaches the rule instead: the words that ask for a tool and the values the call needs decide
the call; the rest does not. Words go only where a reader sees a word boundary (at either end,
beside a space or punctuation, or where the script changes, as between 'Europe/Madrid' and 那边),
never inside a value the call copies: '天|气' stays whole, and the call's arguments still appear
in the request as they are.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterable, Sequence

OPENING_QUOTES = frozenset("\"'“‘「『")
CLOSING_QUOTES = frozenset("\"'”’」』")


def _is_cjk(char: str) -> bool:
    return "\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef"


def _is_break(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def _value_spans(text: str, values: Iterable[str]) -> list[tuple[int, int]]:
    spans = []
    for value in values:
        start = text.find(value) if value else -1
        while start != -1:
            spans.append((start, start + len(value)))
            start = text.find(value, start + 1)
    return spans


def _touches_value(text: str, offset: int, spans: list[tuple[int, int]], word_is_cjk: bool) -> bool:
    """Whether a word at ``offset`` would sit against a value's edge of its own script, so that
    where the value ends could not be told ('大阪' + 苹果, 'to Rome' + apple; 'Europe/Madrid' +
    苹果 can)."""
    left = len(text[:offset].rstrip())
    right = len(text) - len(text[offset:].lstrip())
    for start, end in spans:
        if end == left and _is_cjk(text[end - 1]) == word_is_cjk:
            return True
        if start == right and _is_cjk(text[start]) == word_is_cjk:
            return True
    return False


def boundaries(text: str, values: Iterable[str], word_is_cjk: bool) -> list[int]:
    """Offsets in ``text`` where a word can go: a visible word boundary outside every value and
    every pair of quotes, not against a value's edge of the word's script. Spaces are skipped:
    an offset just before a space would give the same text as the one after it."""
    spans = _value_spans(text, values)
    offsets = []
    for offset in range(len(text) + 1):
        before = text[offset - 1] if offset else ""
        after = text[offset] if offset < len(text) else ""
        if after.isspace() or any(start < offset < end for start, end in spans):
            continue
        if before in OPENING_QUOTES or after in CLOSING_QUOTES:
            continue
        if _touches_value(text, offset, spans, word_is_cjk):
            continue
        if (
            not before
            or not after
            or _is_break(before)
            or _is_break(after)
            or _is_cjk(before) != _is_cjk(after)
        ):
            offsets.append(offset)
    return offsets


def insert(
    rng: random.Random,
    text: str,
    values: Iterable[str],
    words: Sequence[str],
    language: str,
) -> str:
    """``text`` with one of ``words`` at one of its ``boundaries`` (unchanged where it has none);
    English words get spaces."""
    offsets = boundaries(text, values, word_is_cjk=language == "zh")
    if not offsets:
        return text
    offset = rng.choice(offsets)
    word = rng.choice(words)
    before, after = text[:offset], text[offset:]
    if language == "zh":
        return before + word + after
    before, after = before.rstrip(), after.lstrip()
    space_after = " " if after and not _is_break(after[0]) else ""
    return (before + " " if before else "") + word + space_after + after
