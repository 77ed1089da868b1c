"""Convert a GGUF file into an ordinary Hugging Face folder (config, safetensors, tokenizer).

transformers' GGUF loader dequantizes the tensors but keeps ``quantization_config`` (gguf,
dequantize false) in the config and refuses ``save_pretrained``; a folder saved with that key
keeps weights packed and runs 2-4× slower. So the dequantized state dict is saved here by hand,
without that key, optionally with lm_head tied to the embeddings.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from llm.errors import ModelFetchError

logger = logging.getLogger(__name__)


def convert_gguf(gguf_file: Path, out_dir: Path, tie_word_embeddings: bool) -> None:
    """Write the model of ``gguf_file`` as fp32 safetensors + tokenizer into ``out_dir``."""
    started = time.perf_counter()
    folder, name = str(gguf_file.parent), gguf_file.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    except (OSError, ValueError, KeyError) as error:
        raise ModelFetchError(f"transformers cannot read {gguf_file}: {error}") from error
    if tokenizer.chat_template is None:
        raise ModelFetchError(f"{gguf_file} carries no chat template")

    state = {key: value.contiguous() for key, value in model.state_dict().items()}
    config = model.config
    del config.quantization_config
    config.tie_word_embeddings = tie_word_embeddings
    if tie_word_embeddings:
        difference = (state["lm_head.weight"] - state["model.embed_tokens.weight"]).abs().max()
        logger.info("tying lm_head to the embeddings (max abs difference %.4f)", difference)
        del state["lm_head.weight"]

    out_dir.mkdir(parents=True)
    save_file(state, out_dir / "model.safetensors", metadata={"format": "pt"})
    config.save_pretrained(out_dir)
    stops = [tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")]
    stops = [token for token in stops if isinstance(token, int) and token >= 0]
    GenerationConfig(
        eos_token_id=stops or tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    ).save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    parameters = sum(value.numel() for value in state.values())
    logger.info(
        "converted %s → %s: %.0f M parameters in %.0f s",
        gguf_file,
        out_dir,
        parameters / 1e6,
        time.perf_counter() - started,
    )
