"""Tiny models for llama.cpp tests: a Hugging Face Qwen2 folder written as a float32 GGUF, and
random peft LoRA adapters over it.

Tokens, their types and the BPE merges come from tokenizer.json; the vocabulary is padded to the
embedding rows. Tests pass prompts to llama.cpp as token ids, so its pre-tokenizer never matters.
A tied model's output rows are written as a copy of the embeddings, as the shipped GGUF has them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import gguf
import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from safetensors.numpy import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from llm.llamacpp_model import GGUF_IN_FOLDER

TOOL_TOKENS = ["<tool_call>", "</tool_call>"]
PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def write_qwen2_gguf(folder: Path, out_file: Path) -> Path:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    weights = load_file(folder / "model.safetensors")
    blocks = config["num_hidden_layers"]
    writer = gguf.GGUFWriter(out_file, arch="qwen2")
    writer.add_name("tiny-qwen2")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_block_count(blocks)
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_head_count_kv(config["num_key_value_heads"])
    rope = config.get("rope_parameters") or {}
    writer.add_rope_freq_base(float(rope.get("rope_theta", config.get("rope_theta", 10000.0))))
    writer.add_layer_norm_rms_eps(config["rms_norm_eps"])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    tokens, types = _vocabulary(tokenizer, config["vocab_size"])
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    merges = tokenizer["model"]["merges"]
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    eos = config["eos_token_id"]
    writer.add_eos_token_id(eos[0] if isinstance(eos, list) else eos)
    writer.add_pad_token_id(config["pad_token_id"])
    writer.add_add_bos_token(False)

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.QWEN2, blocks)
    if config.get("tie_word_embeddings") and "lm_head.weight" not in weights:
        weights["lm_head.weight"] = weights["model.embed_tokens.weight"].copy()
    for key, value in weights.items():
        name = names.get_name(key, try_suffixes=(".weight", ".bias"))
        writer.add_tensor(name, np.ascontiguousarray(value, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_file


def _vocabulary(tokenizer: dict, size: int) -> tuple[list[str], list[int]]:
    tokens = [f"[PAD{i}]" for i in range(size)]
    types = [gguf.TokenType.UNUSED] * size
    for text, index in tokenizer["model"]["vocab"].items():
        tokens[index], types[index] = text, gguf.TokenType.NORMAL
    for added in tokenizer["added_tokens"]:
        tokens[added["id"]] = added["content"]
        types[added["id"]] = (
            gguf.TokenType.CONTROL if added["special"] else gguf.TokenType.USER_DEFINED
        )
    return tokens, [int(t) for t in types]


def random_adapter(model_dir: Path, out: Path, seed: int, strength: float = 0.3, **options) -> Path:
    """A peft adapter with random A and B (visible effect) and random rows for the tool tags;
    ``strength``: their standard deviation."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    config = LoraConfig(
        r=4,
        lora_alpha=8,
        target_modules=PROJECTIONS,
        trainable_token_indices=tokenizer.convert_tokens_to_ids(TOOL_TOKENS),
        init_lora_weights=False,
        **options,
    )
    peft_model = get_peft_model(model, config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_" in name or "trainable_tokens_delta" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * strength)
    peft_model.save_pretrained(out)
    return out


def served_model(engine: str, model_dir: Path, tmp_path_factory) -> Path:
    """``model_dir`` as ``engine`` serves it: as it is for transformers; for llama.cpp a copy of
    the same name with its GGUF (``model.gguf``) beside its safetensors."""
    if engine == "transformers":
        return model_dir
    copy = tmp_path_factory.mktemp("gguf") / model_dir.name
    shutil.copytree(model_dir, copy)
    write_qwen2_gguf(copy, copy / GGUF_IN_FOLDER)
    return copy
