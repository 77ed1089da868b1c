"""Merge a GGUF LoRA (``gguf_lora``) into its base GGUF, writing a new GGUF whose weights carry
the adapter: what the llama.cpp engine serves when the model is an adapter, as the transformers
engine merges one into its base. An unmerged LoRA costs llama.cpp ~25 % of its decode speed.

Each tensor a LoRA pair touches is dequantized, gets ``alpha / rank * B @ A`` (llama.cpp's own
arithmetic at scale 1) and is quantized again: to its own type where gguf-py can write it (Q5_0,
Q8_0, Q4_0, ...), else to the next wider one it can (Q4_K -> Q5_0, Q6_K -> Q8_0). Trained token
rows (a rank-k LoRA on ``token_embd`` and ``output``) change only their rows: those rows are
quantized again alone (a row is whole blocks) and spliced in. Every other tensor and all
metadata are copied byte for byte. Nothing is written but the finished file (atomic rename).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import gguf
import numpy as np

from llm.gguf_lora import LoraConversionError, write_gguf

logger = logging.getLogger(__name__)

Q = gguf.GGMLQuantizationType
# Types gguf-py cannot quantize, and the wider type a merged tensor is written in instead.
_WIDER = {Q.Q4_K: Q.Q5_0, Q.Q5_K: Q.Q8_0, Q.Q6_K: Q.Q8_0, Q.Q3_K: Q.Q5_0, Q.Q2_K: Q.Q5_0}
_PLAIN = {Q.F32: np.float32, Q.F16: np.float16}
_QUANTIZABLE = {Q.BF16, Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0}  # gguf-py writes these


def merge_lora(base_gguf: Path, lora_gguf: Path, out_file: Path) -> Path:
    """Write ``base_gguf`` with the LoRA in ``lora_gguf`` merged in, to ``out_file``."""
    started = time.perf_counter()
    base, lora = gguf.GGUFReader(base_gguf), gguf.GGUFReader(lora_gguf)
    alpha = float(lora.get_field(gguf.Keys.Adapter.LORA_ALPHA).contents())
    parts = {t.name: np.asarray(t.data, dtype=np.float32) for t in lora.tensors}
    targets = {name.removesuffix(".lora_a") for name in parts if name.endswith(".lora_a")}
    missing = targets - {t.name for t in base.tensors}
    if missing:
        raise LoraConversionError(f"{lora_gguf} changes {sorted(missing)}, not in {base_gguf}")

    out_file.parent.mkdir(parents=True, exist_ok=True)
    partial = out_file.with_name(f".{out_file.name}.partial")
    arch = str(base.get_field(gguf.Keys.General.ARCHITECTURE).contents())
    writer = gguf.GGUFWriter(partial, arch=arch)
    for key, field in base.fields.items():
        if key.startswith("GGUF.") or key == gguf.Keys.General.ARCHITECTURE:
            continue
        sub_type = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), field.types[0], sub_type)
    widened = 0
    for tensor in base.tensors:
        if tensor.name not in targets:
            writer.add_tensor(tensor.name, tensor.data, raw_dtype=tensor.tensor_type)
            continue
        lora_a, lora_b = parts[f"{tensor.name}.lora_a"], parts[f"{tensor.name}.lora_b"]
        data, qtype = _merged(tensor, lora_a, lora_b, alpha)
        widened += qtype != tensor.tensor_type
        writer.add_tensor(tensor.name, data, raw_dtype=qtype)
    write_gguf(writer, partial, out_file)
    logger.info(
        "merged %s into %s -> %s: %d tensors changed (%d written in a wider type) in %.1fs",
        lora_gguf,
        base_gguf,
        out_file,
        len(targets),
        widened,
        time.perf_counter() - started,
    )
    return out_file


def _merged(
    tensor: gguf.ReaderTensor, lora_a: np.ndarray, lora_b: np.ndarray, alpha: float
) -> tuple[np.ndarray, gguf.GGMLQuantizationType]:
    """The tensor's data with the pair added, and the type it is written in."""
    rows, cols = int(tensor.shape[1]), int(tensor.shape[0])  # numpy (rows, cols) of ggml's
    if tensor.name == "token_embd.weight":  # stored flipped: a (vocab, k), b (cols, k)
        rank = lora_a.shape[1]
        changed = np.flatnonzero(np.abs(lora_a).sum(axis=1))
        delta = (alpha / rank) * (lora_a[changed] @ lora_b.T)
    else:  # a (k, cols), b (rows, k)
        rank = lora_a.shape[0]
        changed = np.flatnonzero(np.abs(lora_b).sum(axis=1))
        delta = (alpha / rank) * (lora_b[changed] @ lora_a)
    if delta.shape[1] != cols:
        raise LoraConversionError(f"the LoRA on {tensor.name} does not fit its {rows}x{cols}")
    qtype = tensor.tensor_type
    if len(changed) < rows and _writable(qtype):  # a few rows: splice them in
        data = np.array(tensor.data, copy=True)
        current = _dequantize(tensor.data[changed], qtype).reshape(len(changed), cols)
        data[changed] = _quantize(current + delta, qtype)
        return data, qtype
    weights = _dequantize(tensor.data, qtype).reshape(rows, cols)
    weights[changed] += delta
    qtype = qtype if _writable(qtype) else _WIDER.get(qtype, Q.Q8_0)
    return _quantize(weights, qtype), qtype


def _writable(qtype: gguf.GGMLQuantizationType) -> bool:
    return qtype in _PLAIN or qtype in _QUANTIZABLE


def _dequantize(data: np.ndarray, qtype: gguf.GGMLQuantizationType) -> np.ndarray:
    if qtype in _PLAIN:
        return np.array(data, dtype=np.float32)  # a copy: the reader's data is read-only
    return gguf.quants.dequantize(data, qtype)


def _quantize(values: np.ndarray, qtype: gguf.GGMLQuantizationType) -> np.ndarray:
    if qtype in _PLAIN:
        return values.astype(_PLAIN[qtype])
    return gguf.quants.quantize(np.ascontiguousarray(values, dtype=np.float32), qtype)
