"""Merging a GGUF LoRA into its base GGUF: the merged model answers as the base with the LoRA
does, trained token rows change only their own rows, a quantized tensor gets the pair within its
quantization error, and a LoRA made for another base is refused."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np
import pytest
from transformers import AutoTokenizer

from llm.gguf_lora import LoraConversionError, _write, convert_lora
from llm.gguf_merge import merge_lora
from llm.llamacpp_engine import LlamaCppEngine, LlamaCppSettings, Sampling
from tests.gguf_models import random_adapter, write_qwen2_gguf

QUESTIONS = ["What is the weather in Paris?", "Read the file notes.txt", "Tell me a joke"]
Q = gguf.GGMLQuantizationType


@pytest.fixture(scope="module")
def files(tiny_model_dir, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("merge")
    adapter = random_adapter(tiny_model_dir, folder / "adapter", seed=11)
    model = write_qwen2_gguf(tiny_model_dir, folder / "tiny.gguf")
    lora = convert_lora(adapter, folder / "adapter.gguf", model).path
    merged = merge_lora(model, lora, folder / "merged.gguf")
    return {"hf": tiny_model_dir, "model": model, "lora": lora, "merged": merged}


def tensors(path: Path) -> dict[str, gguf.ReaderTensor]:
    return {t.name: t for t in gguf.GGUFReader(path).tensors}


def test_the_merged_model_answers_as_the_base_with_its_lora(files):
    tokenizer = AutoTokenizer.from_pretrained(files["hf"])
    prompts = [
        tokenizer(
            tokenizer.apply_chat_template(
                [{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False
            ),
            add_special_tokens=False,
        )["input_ids"]
        for q in QUESTIONS
    ]
    common = {"parallel": 1, "context_per_slot": 512, "threads": 1}
    with_lora = LlamaCppSettings(
        gguf_path=str(files["model"]), adapters={"a": str(files["lora"])}, **common
    )
    with LlamaCppEngine(with_lora) as engine:
        expected = [
            engine.submit(p, Sampling(max_tokens=12), ("a",)).result().text for p in prompts
        ]
    with LlamaCppEngine(LlamaCppSettings(gguf_path=str(files["merged"]), **common)) as engine:
        merged = [engine.submit(p, Sampling(max_tokens=12)).result().text for p in prompts]
    assert merged == expected


def test_token_rows_change_only_their_rows_and_metadata_is_kept(files):
    base, merged = tensors(files["model"]), tensors(files["merged"])
    assert set(base) == set(merged)
    before, after = base["token_embd.weight"].data, merged["token_embd.weight"].data
    changed = np.flatnonzero(np.any(before != after, axis=1))
    assert 1 <= len(changed) <= 2  # the two tool-call tag rows
    assert np.array_equal(base["output_norm.weight"].data, merged["output_norm.weight"].data)
    fields = gguf.GGUFReader(files["merged"]).fields
    assert fields["tokenizer.ggml.tokens"].contents() == (
        gguf.GGUFReader(files["model"]).fields["tokenizer.ggml.tokens"].contents()
    )


def test_a_quantized_tensor_gets_the_pair_within_its_quantization_error(tmp_path):
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(64, 128)).astype(np.float32)
    lora_a = rng.normal(size=(4, 128)).astype(np.float32) * 0.1
    lora_b = rng.normal(size=(64, 4)).astype(np.float32) * 0.1
    base_file = tmp_path / "base.gguf"
    writer = gguf.GGUFWriter(base_file, arch="qwen2")
    for name, qtype in (("blk.0.attn_q.weight", Q.Q5_0), ("blk.0.attn_k.weight", Q.Q8_0)):
        writer.add_tensor(name, gguf.quants.quantize(weights, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    lora_file = tmp_path / "lora.gguf"
    pairs = [
        (f"blk.0.{n}.weight.lora_{p}", v)
        for n in ("attn_q", "attn_k")
        for p, v in (("a", lora_a), ("b", lora_b))
    ]
    _write(lora_file, "qwen2", alpha=8.0, tensors=pairs)
    merged = tensors(merge_lora(base_file, lora_file, tmp_path / "merged.gguf"))
    expected = weights + (8.0 / 4) * lora_b @ lora_a
    for name, qtype in (("blk.0.attn_q.weight", Q.Q5_0), ("blk.0.attn_k.weight", Q.Q8_0)):
        tensor = merged[name]
        assert tensor.tensor_type == qtype
        got = gguf.quants.dequantize(tensor.data, qtype).reshape(64, 128)
        error = np.abs(got - expected).max()
        assert error < {Q.Q5_0: 0.3, Q.Q8_0: 0.05}[qtype], (name, error)


def test_a_lora_for_another_base_is_refused(files, tmp_path):
    other = tmp_path / "other.gguf"
    _write(
        other,
        "qwen2",
        8.0,
        [
            ("blk.99.attn_q.weight.lora_a", np.ones((2, 4), np.float32)),
            ("blk.99.attn_q.weight.lora_b", np.ones((4, 2), np.float32)),
        ],
    )
    with pytest.raises(LoraConversionError, match="blk.99.attn_q.weight"):
        merge_lora(files["model"], other, tmp_path / "merged.gguf")
    assert not (tmp_path / "merged.gguf").exists()
