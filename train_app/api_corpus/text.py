"""Plain text and names from API documentation: HTML and markdown stripped, sentences cut short,
identifiers turned into snake_case. Nothing here knows a spec format."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

MAX_NAME_CHARS = 64  # OpenAI function names: ^[a-zA-Z0-9_-]{1,64}$

_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_MD_MARKS = re.compile(r"(\*\*|__|`+|^#+\s*|^\s*[-*+]\s+|^\s*>\s?)", re.MULTILINE)
_SPACES = re.compile(r"\s+")
# A sentence ends at . ! or ? followed by a space and a capital, digit or quote; not after the
# abbreviations API prose is full of.
_SENTENCE_END = re.compile(
    r"(?<![Ee]\.g)(?<![Ii]\.e)(?<!etc)(?<!vs)(?<!\b[A-Z])[.!?](?=\s+[A-Z0-9\"'(`])"
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


_INLINE_TAGS = {"a", "b", "code", "em", "fullname", "i", "span", "strong", "sub", "sup", "tt", "u"}


class _TextOnly(HTMLParser):
    """Collects the text of an HTML fragment; tags other than inline ones become spaces."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INLINE_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag not in _INLINE_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(text: str | None) -> str:
    """``text`` without HTML tags, markdown marks and runs of whitespace."""
    if not text:
        return ""
    if "<" in text:
        parser = _TextOnly()
        parser.feed(text)
        parser.close()
        text = "".join(parser.parts)
    text = _MD_IMAGE.sub("", html.unescape(text))
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_MARKS.sub("", text)
    return _SPACES.sub(" ", text).strip()


def short_description(text: str | None, max_chars: int, sentences: int = 2) -> str:
    """The first ``sentences`` sentences of ``text`` as plain text, cut at a word boundary (with an
    ellipsis) when longer than ``max_chars``."""
    text = plain_text(text)
    ends = [match.end() for match in _SENTENCE_END.finditer(text)]
    if len(ends) >= sentences:
        text = text[: ends[sentences - 1]]
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1].rsplit(" ", 1)[0].rstrip(",;:-( ")
    return f"{cut}…"


def joined_description(summary: str | None, description: str | None, max_chars: int) -> str:
    """One to two sentences from a summary and a longer description: the summary first, then
    the description when it says more than the summary does."""
    summary_text = plain_text(summary).rstrip(".")
    described = plain_text(description)
    if not summary_text:
        return short_description(described, max_chars)
    if not described or described.lower().startswith(summary_text.lower()):
        return short_description(described or summary_text, max_chars)
    return short_description(f"{summary_text}. {described}", max_chars)


def snake_case(identifier: str) -> str:
    """``listAccounts``, ``Accounts_List``, ``repos/get-content`` → ``list_accounts``,
    ``accounts_list``, ``repos_get_content``; cut to 64 characters at a word boundary."""
    words = _NOT_WORD.sub(" ", _CAMEL.sub(" ", identifier)).lower().split()
    name = "_".join(words)
    if len(name) > MAX_NAME_CHARS:
        name = name[: MAX_NAME_CHARS + 1].rsplit("_", 1)[0]
    return name[:MAX_NAME_CHARS].strip("_")
