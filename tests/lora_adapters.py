"""Real peft LoRA adapter folders for tests, built deterministically without training."""

from __future__ import annotations

from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM


def make_lora_adapter(base: Path, folder: Path, seed: int) -> Path:
    """Save (safetensors) a LoRA adapter for ``base`` whose random, non-zero A and B change
    its greedy output; peft's default zero B would leave the output as the base's. The scale
    (alpha / r = 8) is large on purpose: at 2, one seed left the tiny model's reply as it was."""
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    config = LoraConfig(
        r=8, lora_alpha=64, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False
    )
    get_peft_model(model, config).save_pretrained(folder)
    return folder
