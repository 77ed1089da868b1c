"""The value pools of ``value_pools.yaml``: which pool a parameter's name or description picks,
and a value drawn from it (templates and the date, time and uuid generators filled in)."""

from __future__ import annotations

import datetime
import functools
import random
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from train_app.schema_rows.spoken import Language

POOLS_FILE = Path(__file__).with_name("value_pools.yaml")
FIRST_DATE = datetime.date(2026, 1, 1)
DATE_SPAN_DAYS = 730
_IDENTIFIER_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_FIELD = re.compile(r"\{(digits|hex|upper|lower):(\d+)\}|\{(word)\}")
_ALPHABETS = {
    "digits": "0123456789",
    "hex": "0123456789abcdef",
    "upper": "ABCDEFGHJKLMNPQRSTUVWXYZ",
    "lower": "abcdefghijkmnopqrstuvwxyz",
}


@dataclass(frozen=True)
class StringPool:
    match: tuple[str, ...]
    values: dict[str, tuple[str, ...]]  # "en", "zh" or "any" → entries
    quote: bool

    def entries(self, language: Language) -> tuple[str, ...]:
        return self.values.get(language) or self.values.get("any") or self.values["en"]


@dataclass(frozen=True)
class NumberRange:
    match: tuple[str, ...]
    low: float
    high: float
    decimals: int


@dataclass(frozen=True)
class Pools:
    strings: tuple[StringPool, ...]
    numbers: tuple[NumberRange, ...]
    plain_words: frozenset[str]


def words_of(identifier: str) -> list[str]:
    """``bucketID``, ``source_timezone``, ``per-page`` → ``[bucket, id]``, ``[source,
    timezone]``, ``[per, page]``."""
    return [word.lower() for word in _IDENTIFIER_WORDS.findall(identifier)]


@functools.cache
def load_pools(path: Path = POOLS_FILE) -> Pools:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    strings = []
    for raw in data["strings"]:
        values = {key: tuple(str(v) for v in raw[key]) for key in ("en", "zh") if key in raw}
        if "values" in raw:
            values["any"] = tuple(str(v) for v in raw["values"])
        strings.append(StringPool(tuple(raw["match"]), values, bool(raw.get("quote", False))))
    numbers = []
    for raw in data["numbers"]:
        low, high = map(float, raw["range"])
        numbers.append(NumberRange(tuple(raw["match"]), low, high, int(raw.get("decimals", 0))))
    return Pools(tuple(strings), tuple(numbers), frozenset(data["plain_words"]))


def _position(phrase: str, words: list[str]) -> int | None:
    """Where the words of ``phrase`` first occur together in ``words``, or None."""
    wanted = phrase.split()
    for start in range(len(words) - len(wanted) + 1):
        if words[start : start + len(wanted)] == wanted:
            return start
    return None


def _chosen(candidates: tuple[Any, ...], name: str, description: str) -> Any:
    """The first candidate matched by the name's words, else the one matched earliest in the
    description, else the last (the catch-all ``any``)."""
    name_words = words_of(name)
    for candidate in candidates:
        if any(_position(phrase, name_words) is not None for phrase in candidate.match):
            return candidate
    described = re.findall(r"[a-z0-9]+", description.lower())
    best, where = candidates[-1], len(described) + 1
    for candidate in candidates[:-1]:
        for phrase in candidate.match:
            found = _position(phrase, described)
            if found is not None and found < where:
                best, where = candidate, found
    return best


def string_pool(name: str, description: str) -> StringPool:
    return _chosen(load_pools().strings, name, description)


def number_range(name: str, description: str) -> NumberRange:
    return _chosen(load_pools().numbers, name, description)


def name_words(name: str, tool_name: str) -> list[str]:
    """Words that say what a parameter names, for ``{word}``: its own, else the tool's (less its
    verb), else ``item``."""
    plain = load_pools().plain_words
    own = [w for w in words_of(name) if w not in plain and not w.isdigit()]
    tool = [w for w in words_of(tool_name)[1:] if w not in plain and not w.isdigit()]
    return own or tool or ["item"]


def fill(rng: random.Random, entry: str, words: list[str]) -> str:
    """A pool entry with its template fields drawn."""
    generator = {"{date}": random_date, "{datetime}": random_datetime, "{time}": random_time}
    if entry in generator:
        return generator[entry](rng)
    if entry == "{uuid}":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def field(match: re.Match[str]) -> str:
        if match.group(3):
            return rng.choice(words)
        alphabet = _ALPHABETS[match.group(1)]
        return "".join(rng.choice(alphabet) for _ in range(int(match.group(2))))

    return _FIELD.sub(field, entry)


def random_date(rng: random.Random) -> str:
    return (FIRST_DATE + datetime.timedelta(days=rng.randrange(DATE_SPAN_DAYS))).isoformat()


def random_time(rng: random.Random) -> str:
    return f"{rng.randrange(6, 23):02d}:{rng.choice((0, 0, 15, 30, 45)):02d}"


def random_datetime(rng: random.Random) -> str:
    return f"{random_date(rng)}T{random_time(rng)}:00Z"
