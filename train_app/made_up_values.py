"""Random values no training pool holds: words, Chinese text, names, paths, word sequences.

A model trained on a few dozen places or file names memorises them and writes a remembered value
instead of the one in the request. Rows whose values are made up here can only be answered by
copying, which is what a held-out request needs. Used by the copy drills and, for half of the
training rows, by the tool-call dataset.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from functools import cache
from pathlib import Path

CONSONANTS = "bcdfghjklmnprstvwxz"
VOWELS = "aeiou"
# The tiny tokenizer's training texts; its word lists are also the common words below.
CORPUS_DIR = Path(__file__).parent / "tokenizer_corpus"
EXTENSIONS = ("txt", "md", "json", "csv", "py", "log", "yaml")
# The regions of IANA zone names, so a made-up zone looks like a real one ("Europe/Kodiva").
ZONE_REGIONS = ("Africa", "America", "Asia", "Atlantic", "Australia", "Europe", "Pacific")
# How often two words of a made-up Chinese sentence are tied with 的.
ZH_TIE_SHARE = 0.3


def word(rng: random.Random) -> str:
    """A pronounceable made-up word, capitalised three times in ten."""
    syllables = (rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(rng.randint(1, 4)))
    made_up = "".join(syllables)
    return made_up.capitalize() if rng.random() < 0.3 else made_up


def han(rng: random.Random, least: int = 1, most: int = 6) -> str:
    """Random characters of the CJK Unified Ideographs block (most are byte pieces to the
    tiny tokenizer, so copying them is copying tokens the model has no meaning for)."""
    return "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(rng.randint(least, most)))


def name(rng: random.Random) -> str:
    """A made-up proper name of two syllables or more: "Kodiva"."""
    syllables = (rng.choice(CONSONANTS) + rng.choice(VOWELS) for _ in range(rng.randint(2, 4)))
    return "".join(syllables).capitalize()


def folder(rng: random.Random) -> str:
    """One or two lower-case made-up folder names: "kodi" or "kodi/vera"."""
    return "/".join(word(rng).lower() for _ in range(rng.randint(1, 2)))


def path(rng: random.Random) -> str:
    """A relative file path of zero to two folders: "kodi/vera.md"."""
    folders = [word(rng).lower() for _ in range(rng.randint(0, 2))]
    return "/".join([*folders, f"{word(rng).lower()}.{rng.choice(EXTENSIONS)}"])


def place(rng: random.Random, language: str) -> str:
    """A made-up place name in the user's language."""
    return han(rng, 2, 3) if language == "zh" else name(rng)


def zone(rng: random.Random) -> str:
    """An IANA-looking zone name that no timezone database has."""
    return f"{rng.choice(ZONE_REGIONS)}/{name(rng)}"


def text(rng: random.Random, language: str) -> str:
    """A short made-up phrase: two to five words, or three to ten characters."""
    if language == "zh":
        return han(rng, 3, 10)
    return " ".join(word(rng) for _ in range(rng.randint(2, 5)))


@cache
def common_words(language: str) -> tuple[str, ...]:
    """Everyday words of ``language`` ("en" or "zh")."""
    return tuple((CORPUS_DIR / f"words_{language}.txt").read_text(encoding="utf-8").split())


def sentence(rng: random.Random, words: Sequence[str], language: str) -> str:
    """Words of ``words`` in a random order: three to seven words, or two to five Chinese ones.

    Made-up syllables teach copying tokens the model has no use for; a held-out query or note is
    made of ordinary words, which a model that memorised training texts tends to replace by the
    words it remembers. Copying these is the skill those requests need.
    """
    if language == "zh":
        # Chinese ties nouns with 的 ("大熊猫的生活习性"): a value holding it teaches that 的 is
        # not where a value ends, as it is in "{place}的天气".
        chosen = [rng.choice(words) for _ in range(rng.randint(2, 5))]
        tied = (w + ("的" if rng.random() < ZH_TIE_SHARE else "") for w in chosen[:-1])
        return "".join(tied) + chosen[-1]
    chosen = " ".join(rng.choice(words) for _ in range(rng.randint(3, 7)))
    return chosen.capitalize() if rng.random() < 0.5 else chosen
