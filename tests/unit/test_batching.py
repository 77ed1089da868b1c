"""Loss masking and low-padding batches."""

from __future__ import annotations

import torch

from train_app.batching import (
    IGNORE_INDEX,
    collate,
    learnable_examples,
    length_grouped_batches,
    random_batches,
    tokenize_row,
)

ROW = {
    "messages": [
        {"role": "user", "content": "计算 15 * 23 的结果"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "type": "function",
                    "function": {"name": "calculate", "arguments": {"expression": "15 * 23"}},
                }
            ],
        },
        {"role": "tool", "name": "calculate", "content": "345"},
        {"role": "assistant", "content": "15 * 23 = 345。"},
    ]
}


def test_only_assistant_tokens_carry_loss(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    example = tokenize_row(tokenizer, ROW, max_length=4096)
    learned = tokenizer.decode(
        [
            t
            for t, lab in zip(example["input_ids"], example["labels"], strict=True)
            if lab != IGNORE_INDEX
        ]
    )
    assert '"calculate"' in learned and "345。" in learned
    assert "计算" not in learned  # the user's words are context, not targets
    assert "<tool_response>" not in learned
    truncated = tokenize_row(tokenizer, ROW, max_length=20)
    assert len(truncated["input_ids"]) == len(truncated["labels"]) == 20


def test_rows_cut_before_their_first_answer_are_not_trained_on(tiny_model_dir):
    """A prompt that fills max_length leaves no learnt token: its loss would be 0/0 (NaN)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    whole = tokenize_row(tokenizer, ROW, max_length=4096)
    cut = tokenize_row(tokenizer, ROW, max_length=8)
    assert all(label == IGNORE_INDEX for label in cut["labels"])
    assert learnable_examples([cut, whole, cut], max_length=8) == [whole]


def test_templates_without_generation_markers_label_the_same_tokens(tiny_model_dir):
    """Qwen2.5's own template has no {% generation %} markers: the assistant's tokens are found
    by rendering the conversation up to and through each reply instead."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    marked = tokenize_row(tokenizer, ROW, max_length=4096)
    assert "generation" in tokenizer.chat_template
    tokenizer.chat_template = tokenizer.chat_template.replace("{%- generation -%}", "").replace(
        "{%- endgeneration -%}", ""
    )
    assert "generation %}" not in tokenizer.chat_template
    assert tokenize_row(tokenizer, ROW, max_length=4096) == marked


def padding_share(lengths: list[int], batches: list[list[int]]) -> float:
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return 1 - sum(lengths) / padded


def test_length_grouping_covers_every_example_once_and_pads_less():
    lengths = [(i * 37) % 500 + 10 for i in range(640)]
    grouped = length_grouped_batches(lengths, batch_size=8, seed=1)
    assert sorted(i for b in grouped for i in b) == list(range(640))
    assert grouped == length_grouped_batches(lengths, batch_size=8, seed=1)
    assert grouped != length_grouped_batches(lengths, batch_size=8, seed=2)
    naive = random_batches(len(lengths), batch_size=8, seed=1)
    assert padding_share(lengths, grouped) < padding_share(lengths, naive) / 3


def test_collate_right_pads_and_masks():
    batch = collate(
        [
            {"input_ids": [5, 6, 7], "labels": [IGNORE_INDEX, 6, 7]},
            {"input_ids": [8], "labels": [8]},
        ],
        pad_token_id=0,
    )
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [8, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["input_ids"].dtype == torch.long
