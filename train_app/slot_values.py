"""Draw an argument value and the words a request says it in, from one slot of the tool library.

A slot is a list of choices (a scalar, said as written, or ``{value, en, zh}`` where the words
differ from the value: units, enums, lists), a random number (``{integer: [lo, hi]}``,
``{number: [lo, hi], decimals: n}``), a date (``{date: true}``: ISO value, said as a reader
writes it) or a time of day (``{time: true}``: ``HH:MM``). Nothing here knows about tools.
"""

from __future__ import annotations

import datetime
import json
import random
from dataclasses import dataclass
from typing import Any, Literal

Language = Literal["en", "zh"]
LANGUAGES: tuple[Language, ...] = ("en", "zh")

FIRST_DATE = datetime.date(2026, 1, 1)
DATE_SPAN_DAYS = 730
_MONTHS = [datetime.date(2026, month, 1).strftime("%B") for month in range(1, 13)]


class SlotError(ValueError):
    """A slot of the tool library that cannot be drawn from (the message names it)."""


@dataclass(frozen=True)
class Drawn:
    """One argument value and how the request says it."""

    value: Any
    said: str


def said_plainly(value: Any) -> str:
    """A value written as a user would type it: strings as they are, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes" if value else "no"
    return json.dumps(value, ensure_ascii=False)


def usable_choices(choices: list[Any], language: Language) -> list[Any]:
    """The choices a request in ``language`` may use: scalars, and words given in that language
    (a choice with words in neither language is said as its value)."""
    return [
        choice
        for choice in choices
        if not isinstance(choice, dict)
        or language in choice
        or not any(other in choice for other in LANGUAGES)
    ]


def draw(rng: random.Random, slot: Any, language: Language, where: str = "slot") -> Drawn:
    """A value of ``slot`` and its words in ``language``; ``where`` names the slot in errors."""
    if isinstance(slot, list):
        choices = usable_choices(slot, language)
        if not choices:
            raise SlotError(f"{where} has no choice usable in {language}")
        choice = rng.choice(choices)
        if isinstance(choice, dict):
            if "value" not in choice:
                raise SlotError(f"{where}: a choice written as a mapping needs a 'value'")
            return Drawn(choice["value"], str(choice.get(language, said_plainly(choice["value"]))))
        return Drawn(choice, said_plainly(choice))
    if isinstance(slot, dict):
        if "integer" in slot:
            low, high = slot["integer"]
            value = rng.randint(int(low), int(high))
            return Drawn(value, str(value))
        if "number" in slot:
            low, high = slot["number"]
            decimals = int(slot.get("decimals", 2))
            number: float = round(rng.uniform(float(low), float(high)), decimals)
            if decimals == 0 or number == int(number):
                number = int(number)
            return Drawn(number, str(number))
        if slot.get("date"):
            return _date(rng, language)
        if slot.get("time"):
            return _time(rng, language)
    raise SlotError(
        f"{where} is neither a list of choices nor one of integer, number, date or time"
    )


def _date(rng: random.Random, language: Language) -> Drawn:
    day = FIRST_DATE + datetime.timedelta(days=rng.randrange(DATE_SPAN_DAYS))
    if language == "zh":
        said = f"{day.year}年{day.month}月{day.day}日"
    else:
        said = f"{_MONTHS[day.month - 1]} {day.day}, {day.year}"
    return Drawn(day.isoformat(), said)


def _time(rng: random.Random, language: Language) -> Drawn:
    hour, minute = rng.randrange(6, 23), rng.choice((0, 0, 15, 30, 45))
    value = f"{hour:02d}:{minute:02d}"
    twelve = hour % 12 or 12
    if language == "zh":
        part = "上午" if hour < 12 else "下午" if hour < 18 else "晚上"
        said = f"{part}{twelve}点" + (f"{minute}分" if minute else "")
    else:
        said = f"{twelve}:{minute:02d} {'AM' if hour < 12 else 'PM'}"
        if not minute:
            said = f"{twelve} {'AM' if hour < 12 else 'PM'}"
    return Drawn(value, said)
