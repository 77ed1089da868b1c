"""Continuous batching: rows join a running batch and leave it at any step, and every row gets
exactly the tokens transformers' own ``generate`` gives it alone, with or without the prefix cache.

The tiny fixture's weights are redrawn larger here: as initialised it writes one token over and
over whatever it is given, which would hide a row reading another row's keys or wrong positions.
"""

from __future__ import annotations

import threading

import pytest
import torch

from configs.settings import ModelConfig
from llm.decode_batch import DecodeBatch, IncrementalText, generate_batch, new_row
from llm.generation import GenerationRequest, GenerationResult, render_prompt
from llm.loading import load_model


@pytest.fixture(scope="module", params=[0, 64], ids=["no-cache", "prefix-cache"])
def loaded(request, tiny_model_dir):
    config = ModelConfig(device="cpu", cpu_quantization="none", prefix_cache_mb=request.param)
    loaded = load_model(str(tiny_model_dir), None, config)
    draws = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for weight in loaded.model.parameters():
            if weight.dim() == 2:
                weight.normal_(0.0, 0.08, generator=draws)
    return loaded


def ask(text: str, max_new_tokens: int, **settings) -> GenerationRequest:
    return GenerationRequest(
        messages=[{"role": "user", "content": text}], max_new_tokens=max_new_tokens, **settings
    )


def alone(loaded, request: GenerationRequest) -> str:
    """The greedy reply of transformers' ``generate`` to the request by itself."""
    prompt = torch.tensor([render_prompt(loaded.tokenizer, request)])
    output = loaded.model.generate(
        prompt,
        attention_mask=torch.ones_like(prompt),
        max_new_tokens=request.max_new_tokens,
        do_sample=False,
    )
    return loaded.tokenizer.decode(output[0, prompt.shape[1] :], skip_special_tokens=True)


def batched_alone(loaded, request: GenerationRequest) -> str:
    [result] = generate_batch(loaded, [request])
    assert isinstance(result, GenerationResult), result
    return result.text


def run(batch: DecodeBatch, joins: dict[int, list[GenerationRequest]]) -> dict[str, str]:
    """Step the batch, adding ``joins[step]`` before that step; the text of each request."""
    texts, step = {}, 0
    while batch.rows or any(at >= step for at in joins):
        rows = [new_row(batch.loaded, r, threading.Event()) for r in joins.get(step, [])]
        for row, outcome in batch.join(rows) + batch.step():
            assert isinstance(outcome, GenerationResult), outcome
            texts[row.request.messages[0]["content"]] = outcome.text
        step += 1
    return texts


def test_rows_that_join_late_and_leave_early_decode_as_alone(loaded):
    # Different prompt lengths: a late, longer prompt widens the cache under the running rows.
    first = ask("hello", 20)
    short = ask("hi", 3)  # leaves after 3 steps while the others go on
    late = ask("a much longer question that joins the running batch later", 12)
    later = ask("what time is it", 6)
    texts = run(DecodeBatch(loaded), {0: [first, short], 5: [late], 9: [later]})
    expected = {r.messages[0]["content"]: alone(loaded, r) for r in (first, short, late, later)}
    assert texts == expected


def test_a_seeded_sample_does_not_depend_on_its_batch(loaded):
    sampled = ask("tell me something", 10, temperature=1.0, top_p=0.9, seed=7)
    together = generate_batch(loaded, [ask("hello", 10), sampled, ask("hi", 4)])
    assert together[1].text == batched_alone(loaded, sampled)


def test_a_batch_ends_each_row_at_its_own_budget(loaded):
    results = generate_batch(loaded, [ask("hello", 2), ask("hello", 9)])
    assert [r.completion_tokens for r in results] == [2, 9]  # the tiny model never says eos
    assert results[0].text == alone(loaded, ask("hello", 2))
    assert len({r.text for r in results}) == 2, "the model is expected to say more after 2 tokens"


def test_streamed_text_holds_back_a_character_until_its_bytes_are_whole(loaded):
    ids = loaded.tokenizer("夹😀", add_special_tokens=False)["input_ids"]
    assert len(ids) > 2, "the emoji is expected to take several byte tokens"
    whole = IncrementalText(loaded.tokenizer)
    assert [p for p in (whole.add(i) for i in ids) if p] == ["夹", "😀"]
    cut = IncrementalText(loaded.tokenizer)
    pieces = "".join(cut.add(i) for i in ids[:-1])
    assert pieces == "夹"
    assert pieces + cut.rest() == loaded.tokenizer.decode(ids[:-1])  # as the plain reply reads
