"""Phrasings and value pools written as indented text blocks, one item per line or paragraph."""

from __future__ import annotations

import re


def lines(block: str) -> tuple[str, ...]:
    """The stripped non-empty lines of ``block``: phrasings and pools are written one per line."""
    return tuple(line.strip() for line in block.strip().splitlines() if line.strip())


def fields(block: str) -> tuple[tuple[str, ...], ...]:
    """Lines of ``a | b | c`` as tuples."""
    return tuple(tuple(part.strip() for part in line.split("|")) for line in lines(block))


def pairs(block: str) -> tuple[tuple[str, str], ...]:
    """Blank-line separated paragraphs of a first line and a (possibly wrapped) second part."""
    found = []
    for paragraph in re.split(r"\n\s*\n", block.strip()):
        first, *rest = lines(paragraph)
        found.append((first, " ".join(rest)))
    return tuple(found)
