"""Tiny Qwen2 model folders for tests: a random one built here, and a trained one kept as data.

`build_tiny_model` writes, in well under a second, a folder that loads with `AutoTokenizer` /
`AutoModelForCausalLM` like any hub checkpoint: a byte-level BPE tokenizer (any text encodes, every
token decodes to bytes) learnt from a page of tool-chat text, the tool-calling chat template of
`fixtures/tool_chat_template.jinja`, and random Qwen2 weights. Same seed, same bytes.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers.trainers import BpeTrainer
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM
from transformers.models.qwen2.tokenization_qwen2 import PRETOKENIZE_REGEX

FIXTURES = Path(__file__).parent / "fixtures"
# Qwen2 trained from scratch to write <tool_call>s, by a curriculum no longer in the project (see
# docs/tiny-model-curriculum.md in git history); frozen. For the tests that need a model which
# writes a valid call or copies a tool result into its answer, as a random one cannot.
TRAINED_TINY_MODEL = FIXTURES / "tiny-qwen2-tools"
CHAT_TEMPLATE = (FIXTURES / "tool_chat_template.jinja").read_text(encoding="utf-8")

ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)
# Not special: decoding with skip_special_tokens=True must keep them so tool calls can be parsed.
TOOL_TOKENS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")
MAX_POSITIONS = 4096


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Byte-level BPE merging every pair in ``fixtures/tokenizer_text.txt`` (~1 000 tokens)."""
    tokenizer = Tokenizer(models.BPE())
    # What Qwen2Tokenizer rebuilds on load, so the loaded tokenizer is the one trained here.
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    text = (FIXTURES / "tokenizer_text.txt").read_text(encoding="utf-8").splitlines()
    tokenizer.train_from_iterator(text, trainer=trainer)
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in TOOL_TOKENS])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        unk_token=None,
        bos_token=None,
        chat_template=CHAT_TEMPLATE,
        model_max_length=MAX_POSITIONS,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )


def build_model(tokenizer: PreTrainedTokenizerFast, seed: int) -> Qwen2ForCausalLM:
    """A randomly initialised Qwen2 of about 3 M parameters, reproducible from ``seed``."""
    eos_id, pad_id = tokenizer.convert_tokens_to_ids([IM_END, ENDOFTEXT])
    config = Qwen2Config(
        vocab_size=-(-len(tokenizer) // 64) * 64,
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=MAX_POSITIONS,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state as it was
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=[eos_id, pad_id], pad_token_id=pad_id, bos_token_id=None, do_sample=False
    )
    return model


def build_tiny_model(folder: Path, seed: int = 0) -> Path:
    """Write tokenizer, chat template, config and fp32 safetensors weights to ``folder``."""
    tokenizer = build_tokenizer()
    tokenizer.save_pretrained(folder)
    build_model(tokenizer, seed).save_pretrained(folder)
    return folder
