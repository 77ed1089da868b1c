"""Convert a peft LoRA adapter folder into llama.cpp's GGUF LoRA format, against the base GGUF it
will run over (it does not load or run a model).

Each ``lora_A``/``lora_B`` pair becomes ``blk.N.<tensor>.weight.lora_a``/``.lora_b`` under
llama.cpp's tensor names; the file carries ``general.type=adapter``, ``adapter.type=lora`` and
one ``adapter.lora.alpha``. llama.cpp scales every pair by ``alpha / rank``, so a module whose
peft scaling differs (``rank_pattern``, ``alpha_pattern``, rsLoRA) has its ``lora_b`` rescaled to
match.

Trained token rows (peft ``trainable_token_indices``) replace whole embedding rows, which no
LoRA format names. They are written as two exact rank-k LoRAs, k the number of rows: on
``token_embd`` (one-hot rows in ``lora_a``, the row deltas in ``lora_b``, flipped as llama.cpp's
input embedding expects) and, since a tied model's output rows are its embedding rows, on
``output``. Each delta is the trained row minus the base GGUF's own dequantized row, so the
quantized base plus the LoRA gives the trained row up to float32 rounding.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf
import numpy as np
from safetensors.numpy import load_file

from llm.errors import ModelLoadError

logger = logging.getLogger(__name__)

# Architectures whose GGUF keeps Hugging Face's projection layout (no q/k row permutation, as
# llama's conversion does), so a LoRA pair maps onto its GGUF tensor unchanged.
SUPPORTED_ARCHITECTURES = ("qwen2",)
_PAIR = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<part>[AB])\.weight$")
_TOKENS = re.compile(
    r"^(?:base_model\.model\.)?(?P<module>.+)\.token_adapter\.trainable_tokens_delta$"
)
_REFUSED_OPTIONS = {
    "use_dora": "DoRA",
    "lora_bias": "LoRA bias terms",
    "fan_in_fan_out": "fan_in_fan_out (Conv1D) layers",
    "layer_replication": "layer replication",
}


class LoraConversionError(ModelLoadError):
    """The adapter cannot be written as a llama.cpp LoRA for this base; the message says why."""


@dataclass(frozen=True)
class LoraConversion:
    """What a conversion wrote."""

    path: Path
    alpha: float
    pairs: int  # LoRA pairs on projections
    token_rows: int  # trained token rows carried as row LoRAs (0: none)
    tied_output: bool  # whether the rows also went onto ``output`` (tied embeddings)


def convert_lora(
    adapter_dir: str | Path,
    out_file: str | Path,
    base_gguf: str | Path,
    tie_word_embeddings: bool = True,
) -> LoraConversion:
    """Write the peft adapter in ``adapter_dir`` as a GGUF LoRA for ``base_gguf`` into
    ``out_file`` (atomically). ``tie_word_embeddings``: the model ties its output to its input
    embeddings (Qwen2.5-0.5B does), so trained token rows change both."""
    adapter_dir, out_file = Path(adapter_dir), Path(out_file)
    config = _adapter_config(adapter_dir)
    weights_file = adapter_dir / "adapter_model.safetensors"
    if not weights_file.is_file():
        raise LoraConversionError(f"{adapter_dir} has no adapter_model.safetensors")
    weights = load_file(weights_file)
    base = gguf.GGUFReader(base_gguf)
    arch = _field(base, "general.architecture")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise LoraConversionError(
            f"{base_gguf} is a {arch!r} model; LoRA conversion supports {SUPPORTED_ARCHITECTURES}"
        )
    blocks = int(_field(base, f"{arch}.block_count"))
    model_arch = next(key for key, value in gguf.MODEL_ARCH_NAMES.items() if value == arch)
    names = gguf.get_tensor_name_map(model_arch, blocks)
    shapes = {t.name: tuple(int(n) for n in reversed(t.shape)) for t in base.tensors}
    alpha = float(config["lora_alpha"])

    pairs: dict[str, dict[str, np.ndarray]] = {}
    token_deltas: dict[str, np.ndarray] = {}
    for key, value in weights.items():
        if match := _PAIR.match(key):
            pairs.setdefault(match["module"], {})[match["part"]] = value.astype(np.float32)
        elif match := _TOKENS.match(key):
            token_deltas[match["module"]] = value.astype(np.float32)
        else:
            raise LoraConversionError(
                f"{weights_file} holds {key!r}, which is neither a LoRA pair nor trained token "
                "rows: full modules (modules_to_save) cannot be expressed as a LoRA"
            )

    tensors: list[tuple[str, np.ndarray]] = []
    for module, pair in sorted(pairs.items()):
        if set(pair) != {"A", "B"}:
            raise LoraConversionError(f"{module} has only lora_{''.join(pair)} in {weights_file}")
        target = _gguf_name(names, module)
        lora_a, lora_b = pair["A"], pair["B"]
        rank = lora_a.shape[0]
        if target not in shapes or shapes[target] != (lora_b.shape[0], lora_a.shape[1]):
            raise LoraConversionError(
                f"{module} ({lora_b.shape[0]}x{lora_a.shape[1]}) does not fit {target} "
                f"{shapes.get(target, 'which is missing')} of {base_gguf}: wrong base model?"
            )
        # peft scales this pair by its own alpha/rank; llama.cpp by the file's alpha / rank.
        wanted = _module_scaling(config, module, rank)
        tensors.append((f"{target}.lora_a", lora_a))
        tensors.append((f"{target}.lora_b", lora_b * (wanted / (alpha / rank))))

    rows = _token_rows(config, token_deltas)
    tied_output = False
    if rows is not None:
        indices, values = rows
        tensors += _row_lora(base, "token_embd.weight", indices, values, alpha, flipped=True)
        if tie_word_embeddings:
            if "output.weight" not in shapes:
                raise LoraConversionError(
                    f"{base_gguf} has no output.weight (llama.cpp then reads the output from "
                    "token_embd, which a row LoRA on token_embd cannot serve): trained token "
                    "rows cannot be converted for it"
                )
            tensors += _row_lora(base, "output.weight", indices, values, alpha, flipped=False)
            tied_output = True

    _write(out_file, arch, alpha, tensors)
    result = LoraConversion(
        out_file, alpha, len(pairs), 0 if rows is None else len(rows[0]), tied_output
    )
    logger.info(
        "LoRA %s -> %s: %d pairs, %d token rows, alpha %g",
        adapter_dir,
        out_file,
        result.pairs,
        result.token_rows,
        alpha,
    )
    return result


def _adapter_config(adapter_dir: Path) -> dict[str, Any]:
    config_file = adapter_dir / "adapter_config.json"
    if not config_file.is_file():
        raise LoraConversionError(f"{adapter_dir} has no adapter_config.json")
    config = json.loads(config_file.read_text(encoding="utf-8"))
    if config.get("peft_type") != "LORA":
        raise LoraConversionError(
            f"{config_file} is a {config.get('peft_type')} adapter; only LORA converts"
        )
    for option, what in _REFUSED_OPTIONS.items():
        if config.get(option):
            raise LoraConversionError(f"{config_file} uses {what}, which llama.cpp cannot run")
    return config


def _field(reader: gguf.GGUFReader, key: str) -> Any:
    field = reader.get_field(key)
    if field is None:
        raise LoraConversionError(f"the base GGUF has no {key}")
    return field.contents()


def _gguf_name(names: gguf.TensorNameMap, module: str) -> str:
    name = names.get_name(f"{module}.weight", try_suffixes=(".weight",))
    if name is None:
        raise LoraConversionError(f"no llama.cpp tensor corresponds to {module}")
    return name


def _module_scaling(config: dict[str, Any], module: str, rank: int) -> float:
    """peft's scaling of the module's pair: alpha / rank, or alpha / sqrt(rank) (rsLoRA), with
    alpha from ``alpha_pattern`` when a key of it names the module."""
    alpha = float(config["lora_alpha"])
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.search(rf"(^|\.){pattern}$", module):
            alpha = float(value)
    return alpha / rank**0.5 if config.get("use_rslora") else alpha / rank


def _token_rows(
    config: dict[str, Any], deltas: dict[str, np.ndarray]
) -> tuple[list[int], np.ndarray] | None:
    """The trained rows' token ids and values (peft stores the rows themselves, not deltas)."""
    if not deltas:
        return None
    indices = config.get("trainable_token_indices")
    if isinstance(indices, dict):  # {module name: ids}; only the input embedding is expressible
        indices = next((ids for name, ids in indices.items() if "embed_tokens" in name), None)
    modules = [module for module in deltas if not module.endswith("embed_tokens")]
    if modules or not indices:
        raise LoraConversionError(
            f"trained token rows on {modules or list(deltas)} cannot be converted: only rows of "
            "the input embeddings (embed_tokens), with trainable_token_indices, are"
        )
    values = deltas[next(iter(deltas))]
    if values.shape[0] != len(indices):
        raise LoraConversionError(
            f"{len(indices)} trainable_token_indices but {values.shape[0]} trained rows"
        )
    return list(indices), values


def _row_lora(
    base: gguf.GGUFReader,
    name: str,
    indices: list[int],
    values: np.ndarray,
    alpha: float,
    flipped: bool,
) -> list[tuple[str, np.ndarray]]:
    """A rank-k LoRA on ``name`` that adds ``values[i] - base_row`` to row ``indices[i]``.

    llama.cpp multiplies by ``alpha / k``, divided out here. Shapes are numpy (row-major) of
    llama.cpp's: a projection's ``lora_a`` is (k, cols), ``lora_b`` (rows, k); ``token_embd``'s
    are flipped: ``lora_a`` (vocab, k) is gathered per token, ``lora_b`` (cols, k).
    """
    tensor = next((t for t in base.tensors if t.name == name), None)
    if tensor is None:
        raise LoraConversionError(f"the base GGUF has no {name} for the trained token rows")
    vocab, cols = int(tensor.shape[1]), int(tensor.shape[0])
    if values.shape[1] != cols or max(indices) >= vocab:
        raise LoraConversionError(
            f"trained token rows ({values.shape[0]}x{values.shape[1]}, ids up to {max(indices)}) "
            f"do not fit {name} ({vocab}x{cols}): wrong base model?"
        )
    # A row is whole quantization blocks, so the trained rows dequantize on their own.
    base_rows = gguf.quants.dequantize(tensor.data[indices], tensor.tensor_type)
    delta = (values - base_rows.reshape(len(indices), cols)) / (alpha / len(indices))
    one_hot: np.ndarray = np.zeros((vocab, len(indices)), dtype=np.float32)
    one_hot[indices, np.arange(len(indices))] = 1.0
    if flipped:
        return [(f"{name}.lora_a", one_hot), (f"{name}.lora_b", np.ascontiguousarray(delta.T))]
    return [(f"{name}.lora_a", np.ascontiguousarray(delta)), (f"{name}.lora_b", one_hot)]


def _write(out_file: Path, arch: str, alpha: float, tensors: list[tuple[str, np.ndarray]]) -> None:
    out_file.parent.mkdir(parents=True, exist_ok=True)
    partial = out_file.with_name(f".{out_file.name}.partial")
    writer = gguf.GGUFWriter(partial, arch=arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    for name, value in tensors:
        writer.add_tensor(name, np.ascontiguousarray(value, dtype=np.float32))
    write_gguf(writer, partial, out_file)


def write_gguf(writer: gguf.GGUFWriter, partial: Path, out_file: Path) -> None:
    """Write what ``writer`` (opened on ``partial``) holds, flushed to disk, then rename it to
    ``out_file``: the file appears only whole; a failure leaves neither file."""
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        with open(partial, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(partial, out_file)
    finally:
        partial.unlink(missing_ok=True)
