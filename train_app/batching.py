"""Turn chat rows into loss-masked token sequences and batches with little padding."""

from __future__ import annotations

import logging
import random
from typing import Any

import torch

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100


def tokenize_row(tokenizer: Any, row: dict[str, Any], max_length: int) -> dict[str, list[int]]:
    """Render with the model's chat template; only assistant tokens carry loss.

    What each assistant message adds is found by rendering the conversation up to it (with the
    assistant cue) and through it, so any template works, also one without ``{% generation %}``
    markers (Qwen2.5's own has none). Its closing end-of-turn token is learnt, the line break
    after it is not.
    """
    messages, tools = row["messages"], row.get("tools") or None

    def render(upto: int, cue: bool) -> str:
        return tokenizer.apply_chat_template(
            messages[:upto], tools=tools, tokenize=False, add_generation_prompt=cue
        )

    text = render(len(messages), False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before, through = render(index, True), render(index + 1, False).rstrip()
        if not (text.startswith(before) and text.startswith(through)):
            raise ValueError(
                "the chat template renders earlier turns differently once later ones follow; "
                "its assistant tokens cannot be found"
            )
        spans.append((len(before), len(through)))
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    input_ids = list(encoded["input_ids"])[:max_length]
    labels = [
        token if any(start <= begin < end for start, end in spans) else IGNORE_INDEX
        for token, (begin, _) in zip(input_ids, encoded["offset_mapping"], strict=False)
    ]
    return {"input_ids": input_ids, "labels": labels}


def length_grouped_batches(
    lengths: list[int], batch_size: int, seed: int, group_factor: int = 16
) -> list[list[int]]:
    """Batches of similar-length examples in a seeded random order.

    Shuffle, sort within windows of ``group_factor`` batches, cut into batches, shuffle the batches:
    padding shrinks to the spread inside a window while the order stays random.
    """
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * group_factor
    batches: list[list[int]] = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def random_batches(count: int, batch_size: int, seed: int) -> list[list[int]]:
    """Plain shuffled batches (the naive baseline the benchmark compares against)."""
    order = list(range(count))
    random.Random(seed).shuffle(order)
    return [order[i : i + batch_size] for i in range(0, count, batch_size)]


def collate(examples: list[dict[str, list[int]]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest example of the batch (the train loss relies on it: see
    assistant_loss, which needs no attention mask for right-padded rows)."""
    width = max(len(e["input_ids"]) for e in examples)
    input_ids = torch.full((len(examples), width), pad_token_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
    attention_mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        n = len(example["input_ids"])
        input_ids[row, :n] = torch.tensor(example["input_ids"])
        labels[row, :n] = torch.tensor(example["labels"])
        attention_mask[row, :n] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention_mask}


def learnable_examples(examples: list[dict], max_length: int) -> list[dict]:
    """The examples with at least one learnt token. A row whose prompt alone fills
    ``max_length`` (a long tool list) is cut before its first answer: it would cost a full
    forward pass and give a loss of 0/0 (NaN in the step's reported loss)."""
    kept = [e for e in examples if any(label != IGNORE_INDEX for label in e["labels"])]
    if len(kept) < len(examples):
        logger.warning(
            "%d of %d training rows have no assistant token within training.max_length %d "
            "and are skipped: raise max_length or offer fewer tools per row",
            len(examples) - len(kept),
            len(examples),
            max_length,
        )
    return kept
