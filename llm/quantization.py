"""Dynamic int8 quantisation of a model's Linear layers for CPU serving.

Weights are stored as int8 and activations quantised per call (torch's dynamic quantisation):
on 2 AVX2 cores this is ~2× faster prefill and ~2.5× faster decoding than fp32 for
Qwen2.5-0.5B. Layers named in ``skip`` stay fp32 so LoRA adapters can attach to them.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn
from transformers import PreTrainedModel


def quantize_int8(model: PreTrainedModel, skip: list[str]) -> PreTrainedModel:
    """The model with its Linear layers (but those whose last name is in ``skip``) in int8."""
    # Per-channel weight scales: one scale per tensor (torch's default) garbles Qwen's tool calls.
    qconfig = torch.ao.quantization.per_channel_dynamic_qconfig
    layers = {
        name: qconfig
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] not in skip
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao's deprecation notices point to torchao
        return torch.ao.quantization.quantize_dynamic(model, layers, dtype=torch.qint8)
