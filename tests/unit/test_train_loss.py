"""The train loop's loss: the model's own causal-LM loss, with logits only where labels are."""

from __future__ import annotations

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from train_app.batching import collate, tokenize_row
from train_app.train_loop import assistant_loss

ROWS = [
    {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
    }
    for question, answer in [
        ("计算 15 * 23 的结果", "15 * 23 = 345。"),
        ("What time is it in Asia/Tokyo?", "It is 09:30 in Asia/Tokyo."),
        ("hi", "Hello! How can I help?"),
    ]
]


@pytest.fixture(scope="module")
def batch(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    examples = [tokenize_row(tokenizer, row, max_length=4096) for row in ROWS]
    return collate(examples, tokenizer.pad_token_id)


@pytest.mark.parametrize("method", ["full", "lora"])
def test_assistant_loss_equals_the_models_own_loss(tiny_model_dir, batch, method):
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    if method == "lora":
        lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
        model = get_peft_model(model, lora)
    expected = model(**batch).loss
    got = assistant_loss(model, batch)
    torch.testing.assert_close(got, expected)
    got.backward()  # and it trains: gradients reach the trainable weights
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)
