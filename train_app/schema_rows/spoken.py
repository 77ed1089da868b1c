"""The declared conversions between a value and the words a request says it in.

A request may say a value as it is, or in a form a reader writes: an ISO date as "December 24,
2026" or "2026年12月24日", a date-time with "at 15:30 UTC", a 24-hour time as "3:30 PM" or
"下午3点30分", an enum value with its underscores and hyphens as spaces. ``said_forms`` lists
every form of a value (both languages), so the verifier can check that the call carries what
was said; ``say`` picks one form for a request in one language. Booleans are said as phrases by
the request patterns and are not checked here.
"""

from __future__ import annotations

import datetime
import random
import re
import unicodedata
from typing import Any, Literal

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")

MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_DATETIME = re.compile(r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::00)?(?:\.0+)?(Z|[+-]\d{2}:\d{2})?")
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPACES = re.compile(r"\s+")


def normalized_text(text: str) -> str:
    """Text as the verifier compares it: NFKC, casefolded, runs of spaces as one."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).casefold())


def said_forms(value: Any) -> list[str]:
    """Every way a request may say ``value`` (a string or a number), the value itself first."""
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, int | float):
        return _number_forms(value)
    text = str(value)
    forms = [text]
    if match := _DATE.fullmatch(text):
        forms += _date_forms(_date(match))
    elif match := _DATETIME.fullmatch(text):
        forms += _datetime_forms(match)
    elif match := _TIME.fullmatch(text):
        forms += _time_forms(int(match.group(1)), int(match.group(2)))
    else:
        forms += _word_forms(text)
    return list(dict.fromkeys(forms))


def say(rng: random.Random, value: Any, language: Language) -> str:
    """One form of ``value`` a request in ``language`` says; dates and times often as a reader
    writes them, anything else as it is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _number_forms(value)[0]
    text = str(value)
    if match := _DATE.fullmatch(text):
        day = _date(match)
        options = _date_forms(day)[:-1] if language == "en" else [_zh_date(day)]
    elif match := _DATETIME.fullmatch(text):
        options = [f for f in _datetime_forms(match) if (language == "zh") == _is_zh(f)]
    elif match := _TIME.fullmatch(text):
        hour, minute = int(match.group(1)), int(match.group(2))
        options = [f for f in _time_forms(hour, minute) if (language == "zh") == _is_zh(f)]
    else:
        return text
    return rng.choice([text, *options])


def enum_words(value: str) -> str:
    """An enum value as words: ``premium_economy``, ``premium-economy`` and ``PremiumEconomy``
    become ``premium economy``."""
    return _SPACES.sub(" ", _CAMEL.sub(" ", value).replace("_", " ").replace("-", " ")).strip()


def is_said(value: Any, text: str) -> bool:
    """Whether ``text`` says ``value`` in one of its declared forms (as a whole word)."""
    haystack = normalized_text(text)
    for form in said_forms(value):
        needle = normalized_text(form).strip()
        if not needle:
            continue
        pattern = re.escape(needle)
        if needle[0].isascii() and needle[0].isalnum():
            pattern = r"(?<![0-9a-z])" + pattern
        if needle[-1].isascii() and needle[-1].isalnum():
            pattern += r"(?![0-9a-z])"
        if re.search(pattern, haystack):
            return True
    return False


def _number_forms(value: int | float) -> list[str]:
    if isinstance(value, float) and value.is_integer():
        return [str(int(value)), str(value)]
    return [str(value)]


def _word_forms(text: str) -> list[str]:
    words = enum_words(text)
    return [words, words.lower()] if words != text else []


def _date(match: re.Match[str]) -> datetime.date:
    return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))


def _date_forms(day: datetime.date) -> list[str]:
    month = MONTHS[day.month - 1]
    return [
        f"{month} {day.day}, {day.year}",
        f"{month[:3]} {day.day}, {day.year}",
        f"{day.day} {month} {day.year}",
        _zh_date(day),
    ]


def _zh_date(day: datetime.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _time_forms(hour: int, minute: int) -> list[str]:
    twelve, half = hour % 12 or 12, "AM" if hour < 12 else "PM"
    part = "上午" if hour < 12 else "下午" if hour < 18 else "晚上"
    if minute == 0:
        return [f"{twelve} {half}", f"{twelve}:00 {half}", f"{part}{twelve}点", f"{hour}点"]
    forms = [f"{twelve}:{minute:02d} {half}", f"{part}{twelve}点{minute}分", f"{hour}点{minute}分"]
    return forms + ([f"{part}{twelve}点半"] if minute == 30 else [])


def _datetime_forms(match: re.Match[str]) -> list[str]:
    day = _date(_DATE.fullmatch(match.group(1)))  # type: ignore[arg-type]
    clock = f"{match.group(2)}:{match.group(3)}"
    zone = match.group(4) or ""
    zone = " UTC" if zone in ("Z", "+00:00") else f" UTC{zone}" if zone else ""
    month = MONTHS[day.month - 1]
    return [
        f"{match.group(1)} {clock}{zone}",
        f"{month} {day.day}, {day.year} at {clock}{zone}",
        f"{_zh_date(day)} {clock}{zone}",
    ]


def _is_zh(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)
