"""Words for rows of any tool, from ``request_patterns.yaml``: what a tool does (its description
read as an action or a thing), how each argument is said, the request, and the answers.

Nothing here draws values or knows the categories; it only turns given values into text.
"""

from __future__ import annotations

import functools
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from train_app.schema_rows.pools import words_of
from train_app.schema_rows.spoken import Language
from train_app.schema_rows.values import Said

PATTERNS_FILE = Path(__file__).with_name("request_patterns.yaml")
MAX_LABEL_WORDS = 6
MAX_ACTION_WORDS = 20
MAX_SHORT_WORDS = 10
Patterns = Literal["train", "heldout", "all"]
_CLAUSE_END = re.compile(r",? *\(?e\.g\.|[.;:。；(]\s|[.。]$| \(|, ")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)\]])[.!?](\s|$)|[。！？]")
_IDENTIFIER = re.compile(r"[a-z]+[A-Z][A-Za-z0-9]*(\(\))?|[A-Za-z0-9]+_[A-Za-z0-9_]+(\(\))?")
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class Purpose:
    """What a tool does, as a request says it: ``kind`` verb (an action) or noun (a thing)."""

    kind: Literal["verb", "noun"]
    text: str


@functools.cache
def load_patterns(path: Path = PATTERNS_FILE) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def purpose(function: dict[str, Any]) -> Purpose:
    """The first sentence of the tool's description as an action ("get the bucket"), else as a
    thing; a tool whose description is missing or only an identifier is named by its name."""
    patterns = load_patterns()
    text = str(function.get("description") or "").strip()
    text = _SENTENCE_END.split(text, maxsplit=1)[0].strip().rstrip(".:;,")
    if not text or _IDENTIFIER.fullmatch(text.split()[0]):
        text = " ".join(words_of(function["name"]))
    for lead in _lead_ins():
        text = lead.sub("", text, count=1) or text
    words = _clipped(text.split(" (")[0].split())
    verbs = set(patterns["verbs"])
    if len(words) > 1 and words[0].lower().endswith("ly") and _base_verb(words[1], verbs):
        words = words[1:]  # "Automatically find ..."
    verb = _base_verb(words[0], verbs, words[1] if len(words) > 1 else "") if words else None
    if verb is None:
        return Purpose("noun", _LEADING_ARTICLE.sub("", _lower_first(" ".join(words))))
    return Purpose("verb", " ".join([verb, *words[1:]]))


def _clipped(words: list[str], most: int = MAX_ACTION_WORDS) -> list[str]:
    """At most ``most`` words, not ending on one that leaves the phrase hanging."""
    words = words[:most]
    dangling = set(load_patterns()["dangling_words"])
    while len(words) > 2 and words[-1].lower().strip(",") in dangling:
        words.pop()
    if words:
        words[-1] = words[-1].rstrip(",;:")
    return words


@functools.cache
def _lead_ins() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in load_patterns()["lead_ins"])


def _base_verb(word: str, verbs: set[str], following: str = "") -> str | None:
    """``Gets`` → ``get``, ``Fetches`` → ``fetch``, ``Queries`` → ``query``; an unknown word in
    -s before an article ("Synthesizes the ...") is taken for a verb too; None for no verb."""
    word = word.lower().strip(",:")
    candidates = [word]
    if word.endswith("ies"):
        candidates.append(word[:-3] + "y")
    if word.endswith("es"):
        candidates.append(word[:-2])
    if word.endswith("s"):
        candidates.append(word[:-1])
    known = next((c for c in candidates if c in verbs), None)
    objects = load_patterns()["object_starts"]
    if known or not (word.endswith("s") and following.lower() in objects):
        return known
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    return word[:-3] + "y" if word.endswith("ies") else word[:-1]


def _lower_first(text: str) -> str:
    if len(text) > 1 and text[1].isupper():
        return text  # an acronym: "URL of ..."
    return text[:1].lower() + text[1:]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def label(rng: random.Random, name: str, schema: dict[str, Any], language: Language) -> str:
    """How a request names a parameter: the first words of its description, or its name as
    words; in Chinese, the name's words translated where ``zh_words`` has them all."""
    words = words_of(name) or [name]
    if language == "zh":
        glossary = load_patterns()["zh_words"]
        if all(word in glossary for word in words):
            return "".join(glossary[word] for word in words)
    acronyms = load_patterns()["acronyms"]
    named = " ".join(word.upper() if word in acronyms else word for word in words)
    described = _CLAUSE_END.split(str(schema.get("description") or ""), maxsplit=1)[0].strip()
    described = _LEADING_ARTICLE.sub("", described)
    weak = described.lower().rstrip(".") in load_patterns()["weak_labels"]
    if described and not weak and len(described.split()) <= MAX_LABEL_WORDS and rng.random() < 0.5:
        return _lower_first(described)
    return named


def argument(
    rng: random.Random, name: str, schema: dict[str, Any], said: Said, language: Language
) -> str:
    """One argument as a request says it."""
    patterns = load_patterns()
    name_label = label(rng, name, schema, language)
    if isinstance(said.value, bool) and not said.words:
        return rng.choice(patterns["boolean"][language][said.value]).format(label=name_label)
    if said.parts:
        parts = joined([argument(rng, *part, language) for part in said.parts], "join", language)
        return rng.choice(patterns["object"][language]).format(label=name_label, parts=parts)
    return rng.choice(patterns["argument"][language]).format(
        label=name_label, value=value_words(rng, name, schema, said, language)
    )


def value_words(
    rng: random.Random, name: str, schema: dict[str, Any], said: Said, language: Language
) -> str:
    """A scalar's words (quoted when free text), or a list's items joined."""
    if said.items:
        items = schema.get("items")
        item_schema: dict[str, Any] = items if isinstance(items, dict) else {}
        words = []
        for item in said.items:
            if item.parts or isinstance(item.value, bool):
                words.append(argument(rng, name, item_schema, item, language))
            else:
                words.append(value_words(rng, name, item_schema, item, language))
        return joined(words, "items", language)
    if said.quoted:
        return load_patterns()["quote"][language].format(value=said.words)
    return said.words


def joined(pieces: list[str], how: str, language: Language) -> str:
    """``a, b and c`` (``how``: ``join`` for arguments, ``items`` for list items)."""
    rule = load_patterns()[how][language]
    if len(pieces) < 2:
        return "".join(pieces)
    return rule["between"].join(pieces[:-1]) + rule["last"] + pieces[-1]


def request(
    rng: random.Random,
    function: dict[str, Any],
    arguments: list[str],
    language: Language,
    patterns: Patterns = "train",
) -> str:
    """A request for ``function`` saying ``arguments`` (each already worded)."""
    what = purpose(function)
    kind = what.kind if arguments else f"{what.kind}_bare"
    pool = _pool(kind, language, patterns)
    args = joined(arguments, "join", language)
    text = rng.choice(pool).format(
        action=what.text,
        Action=_upper_first(what.text),
        thing=what.text,
        args=args,
        Args=_upper_first(args),
    )
    return text.replace("..", ".").replace("?.", "?")


def _pool(kind: str, language: Language, patterns: Patterns) -> list[str]:
    data = load_patterns()
    train = data["requests"][language][kind]
    held = data["heldout_requests"][language].get(kind) or train
    return {"train": train, "heldout": held, "all": train + held}[patterns]


def together(rng: random.Random, texts: list[str], language: Language) -> str:
    """Several requests as one turn."""
    joins = load_patterns()["together"][language]
    choices = joins["any"] + (joins["two"] if len(texts) == 2 else [])
    text = texts[0]
    for other in texts[1:]:
        text = rng.choice(choices).format(a=text, b=other)
    return text


def irrelevance_answer(
    rng: random.Random, asked: dict[str, Any], offered: list[dict[str, Any]], language: Language
) -> str:
    """Words for a request no offered tool serves: what was asked, and what the tools do."""
    actions = [_short(purpose(f)) for f in offered]
    return rng.choice(load_patterns()["irrelevance"][language]).format(
        action=_short(purpose(asked)), offered=joined(actions, "items", language)
    )


def _short(what: Purpose) -> str:
    """At most ``MAX_SHORT_WORDS`` words of what a tool does."""
    text = " ".join(_clipped(re.split(r"[,;(]", what.text)[0].split(), MAX_SHORT_WORDS))
    return text if what.kind == "verb" else f"get the {text}"


def result_answer(rng: random.Random, facts: str, language: Language) -> str:
    return rng.choice(load_patterns()["answers"][language]).format(facts=facts)


def failure_answer(rng: random.Random, error: str, language: Language) -> str:
    return rng.choice(load_patterns()["failures"][language]).format(error=error)
