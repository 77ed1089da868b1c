"""A peft LoRA adapter converted to a GGUF LoRA runs in llama.cpp as it runs in transformers,
trained token rows (``trainable_token_indices``) included."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest
import torch
import xllamacpp
from peft import PeftModel
from safetensors.numpy import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from configs.settings import AppConfig
from llm.gguf_files import ensure_gguf
from llm.gguf_lora import LoraConversionError, convert_lora
from tests.gguf_models import random_adapter, write_qwen2_gguf


@pytest.fixture(scope="module")
def tiny_gguf(tiny_model_dir, tmp_path_factory) -> Path:
    return write_qwen2_gguf(tiny_model_dir, tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def llamacpp_logprobs(gguf_file: Path, adapter: Path, texts: list[list[int]]):
    """llama.cpp's top-10 next-token log-probabilities after each token list in ``texts``; None
    where the next token ends inside a UTF-8 character (llama.cpp holds such a token back)."""
    params = xllamacpp.CommonParams()
    params.model.path = str(gguf_file)
    params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(adapter), 1.0)]
    params.n_ctx, params.port, params.verbosity = 512, 0, 0
    params.cpuparams.n_threads = params.cpuparams_batch.n_threads = 1
    server = xllamacpp.Server(params)
    tops = []
    for prompt in texts:
        reply = server.handle_completions(
            {"prompt": prompt, "max_tokens": 1, "temperature": 0, "n_probs": 10}
        )
        steps = (reply["choices"][0]["logprobs"] or {}).get("content") or [None]
        tops.append(steps[0] and {top["id"]: top["logprob"] for top in steps[0]["top_logprobs"]})
    return tops


@pytest.mark.parametrize(
    "options",
    [
        {"rank_pattern": {"down_proj": 2}, "alpha_pattern": {"v_proj": 3}},
        {"use_rslora": True},
    ],
    ids=["rank-and-alpha-patterns", "rslora"],
)
def test_a_converted_adapter_decodes_as_in_transformers(
    options, tiny_model_dir, tiny_gguf, tmp_path
):
    adapter = random_adapter(tiny_model_dir, tmp_path / "adapter", seed=3, **options)
    converted = convert_lora(adapter, tmp_path / "adapter.gguf", tiny_gguf)
    assert (converted.pairs, converted.token_rows, converted.tied_output) == (28, 2, True)

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    # The tag in the prompt reads its trained input row; the replies are read off output rows.
    prompt = tokenizer("<|im_start|>user\nweather in Paris?<tool_call><|im_end|>\n")["input_ids"]
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), adapter)
    with torch.no_grad():
        reply = model.generate(
            torch.tensor([prompt]), max_new_tokens=12, do_sample=False, eos_token_id=None
        )[0, len(prompt) :].tolist()
        reference = model(torch.tensor([prompt + reply])).logits[0, len(prompt) - 1 : -1]
    reference = reference.float().log_softmax(dim=-1)
    # Position by position on transformers' greedy reply: llama.cpp reports a token that ends
    # inside a UTF-8 character with the next one, so its own reply's steps would not line up.
    tops = llamacpp_logprobs(tiny_gguf, converted.path, [prompt + reply[:n] for n in range(12)])
    compared = [(step, top) for step, top in enumerate(tops) if top]
    assert len(compared) >= 8
    assert [max(top, key=top.get) for _, top in compared] == [reply[step] for step, _ in compared]
    worst = max(
        abs(reference[step, token].item() - logprob)
        for step, top in compared
        for token, logprob in top.items()
    )
    # llama.cpp keeps keys and values in fp16: measured 0.023 and 0.036 at most over the top 10
    # tokens of 10-11 positions (the two adapters here).
    assert worst < 0.1


@pytest.mark.real_model
def test_the_shipped_adapter_converts_with_its_tool_tag_rows_exact(tmp_path):
    shipped = Path("models/qwen2.5-coder-0.5b-tools")
    base = ensure_gguf("qwen2.5-coder-0.5b-instruct", AppConfig().model.cache_dir)
    converted = convert_lora(shipped, tmp_path / "tools.gguf", base)
    config = json.loads((shipped / "adapter_config.json").read_text())
    assert converted.pairs == 7 * len(config["layers_to_transform"])
    assert (converted.token_rows, converted.alpha) == (2, config["lora_alpha"])

    trained = next(
        v for k, v in load_file(shipped / "adapter_model.safetensors").items() if "token" in k
    )
    rows = config["trainable_token_indices"]
    written = {t.name: np.array(t.data) for t in gguf.GGUFReader(converted.path).tensors}
    for tensor in gguf.GGUFReader(base).tensors:
        if tensor.name not in ("token_embd.weight", "output.weight"):
            continue
        base_rows = gguf.quants.dequantize(tensor.data[rows], tensor.tensor_type)
        a, b = written[f"{tensor.name}.lora_a"], written[f"{tensor.name}.lora_b"]
        # llama.cpp: scale alpha/rank; token_embd's pair is flipped (gathered rows of lora_a).
        product = a[rows] @ b.T if tensor.name == "token_embd.weight" else b[rows] @ a
        effective = base_rows + (config["lora_alpha"] / len(rows)) * product
        assert np.abs(effective - trained).max() < 1e-5


def test_dora_is_refused(tmp_path):
    (tmp_path / "adapter_config.json").write_text(
        json.dumps({"peft_type": "LORA", "use_dora": True, "lora_alpha": 8, "r": 4})
    )
    with pytest.raises(LoraConversionError, match="DoRA"):
        convert_lora(tmp_path, tmp_path / "out.gguf", tmp_path / "base.gguf")


def test_an_adapter_for_another_base_is_refused(tiny_model_dir, tiny_gguf, tmp_path):
    adapter = random_adapter(tiny_model_dir, tmp_path / "adapter", seed=0)
    weights = adapter / "adapter_model.safetensors"
    tensors = load_file(weights)
    key = next(k for k in tensors if k.endswith("q_proj.lora_B.weight"))
    tensors[key] = np.zeros((7, 4), dtype=np.float32)  # 7 outputs: no such q_proj here
    save_file(tensors, weights)
    with pytest.raises(LoraConversionError, match="wrong base model"):
        convert_lora(adapter, tmp_path / "out.gguf", tiny_gguf)
    assert not (tmp_path / "out.gguf").exists()
