"""Write "repeat this text" chat rows that teach a model from scratch to copy spans it never saw.

A tool call's arguments are mostly copied from the request ("计算 15 * 23" → ``"15 * 23"``). A
small model trained only on tool rows does not learn to copy: it memorises the argument values
of training and writes those instead. Copying a span found by content (not at a fixed offset)
sits on a long loss plateau before it emerges (README, "Shipped model"), so these rows make every
answer token a copy of a random span: random digits, expressions, made-up words, Chinese
characters and paths, which no memorised value can predict. Train on them first, then on tool
rows: ``configs/tiny_copy.yaml``.

With ``--tokenizer``, half of the texts are runs of the tokenizer's own whole-text tokens: a
model trained from scratch has only learnt the tokens its training rows used, and it cannot copy
a word whose token it never wrote ("Friday" in a note to save), so these rows make it write every
one (``configs/tiny_words.yaml``).
"""

from __future__ import annotations

import argparse
import random
import string
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from train_app import made_up_values
from train_app.dataset_generation import write_jsonl

INSTRUCTIONS = {
    "en": (
        "Repeat exactly: {v}",
        "Say this back to me: {v}",
        "Echo “{v}” please",
        'Copy the text in quotes: "{v}"',
        "Please write {v} again",
        "{v} — repeat that",
        "Type out the following word for word: {v}",
        "What did I write here? [{v}]",
    ),
    "zh": (
        "请原样重复：{v}",
        "把这段文字照抄一遍：{v}",
        "复述“{v}”",
        "请重复引号里的内容：「{v}」",
        "再写一遍 {v}",
        "{v}，请照着写一遍",
        "逐字抄写下面的内容：{v}",
        "我在括号里写了什么？（{v}）",
    ),
}
OPERATORS = ("+", "-", "*", "/", "//", "%", "**")


def _number(rng: random.Random) -> str:
    return str(rng.randint(0, 10 ** rng.randint(1, 6)))


def _expression(rng: random.Random) -> str:
    parts = [_number(rng)]
    for _ in range(rng.randint(1, 3)):
        space = " " if rng.random() < 0.5 else ""
        parts += [space + rng.choice(OPERATORS) + space, _number(rng)]
    return "".join(parts)


def _symbols(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "-_.:@#"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 8)))


PIECES: tuple[Callable[[random.Random], str], ...] = (
    _number, _expression, made_up_values.word, made_up_values.han, made_up_values.path, _symbols,
)  # fmt: skip


def copy_text(rng: random.Random) -> str:
    """One to three random pieces, joined by spaces."""
    return " ".join(rng.choice(PIECES)(rng) for _ in range(rng.randint(1, 3)))


def vocabulary_pieces(tokenizer: Any) -> list[str]:
    """The tokens of ``tokenizer`` that are text on their own: each decodes to a string that
    encodes back to that one token (not byte pieces of a character, not special tokens)."""
    special = set(tokenizer.all_special_ids)
    pieces = []
    for token_id in range(len(tokenizer)):
        text = tokenizer.decode([token_id])
        if token_id in special or not text.strip() or "\ufffd" in text:
            continue
        if tokenizer(text, add_special_tokens=False)["input_ids"] == [token_id]:
            pieces.append(text)
    return pieces


def vocabulary_text(rng: random.Random, pieces: Sequence[str]) -> str:
    """Two to six random pieces, with a space between two word-like ones ("Friday 天 quarter")."""
    chosen = rng.choices(pieces, k=rng.randint(2, 6))
    text = chosen[0]
    for piece in chosen[1:]:
        spaced = _word_like(text[-1]) and _word_like(piece[0])
        text += (" " if spaced else "") + piece
    return text


def _word_like(char: str) -> bool:
    return char.isascii() and char.isalnum()


def copy_drills(count: int, seed: int, vocabulary: Sequence[str] = ()) -> list[dict[str, Any]]:
    """``count`` one-turn rows: a request to repeat a random text, answered by that text alone.

    With ``vocabulary`` (see vocabulary_pieces), half of the texts are runs of its pieces.
    """
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        if vocabulary and rng.random() < 0.5:
            text = vocabulary_text(rng, vocabulary)
        else:
            text = copy_text(rng)
        request = rng.choice(INSTRUCTIONS[rng.choice(("en", "zh"))]).format(v=text)
        messages = [
            {"role": "user", "content": request},
            {"role": "assistant", "content": text},
        ]
        rows.append({"messages": messages})
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write copy-drill chat rows as JSONL.")
    parser.add_argument("--output", required=True, help="JSONL file to write")
    parser.add_argument("--count", type=int, required=True, help="rows to write")
    parser.add_argument("--seed", type=int, default=0, help="generation seed")
    parser.add_argument(
        "--tokenizer", help="model folder whose tokens half of the texts are made of"
    )
    args = parser.parse_args(argv)
    if args.count < 2:
        parser.error("--count must be at least 2 (a validation row is held out)")
    vocabulary: list[str] = []
    if args.tokenizer:
        from transformers import AutoTokenizer

        vocabulary = vocabulary_pieces(AutoTokenizer.from_pretrained(args.tokenizer))
    write_jsonl(copy_drills(args.count, args.seed, vocabulary), Path(args.output))
    print(f"{args.count} copy drills -> {args.output}")


if __name__ == "__main__":
    main()
