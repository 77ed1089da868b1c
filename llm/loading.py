"""Load a full model folder, a model fetched by name, or a LoRA adapter folder (base + peft)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel

from configs.path_roots import confine
from configs.settings import ModelConfig, resolve_path
from llm.errors import ModelLoadError, ModelPathNotFoundError
from llm.model_sources import local_model_path, model_sources
from llm.prefix_cache import PrefixCache
from llm.pretrained import ensure_model, resolve_model_source
from llm.quantization import quantize_int8
from llm.tool_grammar import ToolGrammarCompiler

logger = logging.getLogger(__name__)

ALLOWED_ROOTS = "model.allowed_roots"  # the setting a refused path is told to change


@dataclass
class LoadedModel:
    model: PreTrainedModel
    tokenizer: Any
    model_path: str
    model_folder: str  # where the weights were read from (a name's cache folder, say)
    base_model_name: str | None
    model_type: Literal["full", "LoRA"]
    device: str
    dtype: str
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    load_seconds: float = 0.0
    quantization: str = "none"
    parameters: int = 0  # counted before quantisation, which packs weights out of parameters()
    # Formats tool calls are read in (tools.tool_calls), per model: model.tool_call_formats.
    tool_call_formats: tuple[str, ...] = ("hermes",)
    prefix_cache: PrefixCache = field(default_factory=lambda: PrefixCache(0))
    _tool_grammars: ToolGrammarCompiler | None = field(default=None, repr=False)
    _tool_grammars_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def tool_grammars(self) -> ToolGrammarCompiler:
        """The compiler of this model's tool grammars, made on first use (reading the
        vocabulary takes ~0.5 s)."""
        with self._tool_grammars_lock:
            if self._tool_grammars is None:
                self._tool_grammars = ToolGrammarCompiler(
                    self.tokenizer, self.model.config.vocab_size, sorted(self.eos_ids())
                )
            return self._tool_grammars

    def existing_tool_grammars(self) -> ToolGrammarCompiler | None:
        """The compiler if one was made (reading its counters makes none)."""
        with self._tool_grammars_lock:
            return self._tool_grammars

    def eos_ids(self) -> set[int]:
        """Tokens that end a reply: the generation config's and the tokenizer's."""
        eos = self.model.generation_config.eos_token_id
        ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        ids.add(self.tokenizer.eos_token_id)
        return ids

    def info(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "model_folder": self.model_folder,
            "base_model_name": self.base_model_name,
            "model_type": self.model_type,
            "loaded_at": self.loaded_at,
            "device": self.device,
            "dtype": self.dtype,
            "quantization": self.quantization,
            "prefix_cache": self.prefix_cache.stats(),
            "parameters": self.parameters,
            "load_seconds": round(self.load_seconds, 3),
        }


def pick_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError("model.device is 'cuda' but no GPU is visible to this replica")
    return device


def _from_pretrained_full(source: str, dtype: torch.dtype, device: str) -> PreTrainedModel:
    try:
        model = AutoModelForCausalLM.from_pretrained(
            source, dtype=dtype, use_safetensors=True, trust_remote_code=False
        )
    except (OSError, ValueError) as error:
        raise ModelLoadError(
            f"cannot load model weights from {source!r}: {error}. It must be a local folder "
            "with config.json and *.safetensors (the hub is not reachable from this cluster)."
        ) from error
    return model.to(device).eval()


def adapter_base(folder: Path, base_model_name: str | None = None) -> str | None:
    """The model a LoRA adapter folder runs over: ``base_model_name`` when given, else the one
    its adapter_config.json names (None when it names none)."""
    if base_model_name:
        return base_model_name
    adapter_config = json.loads((folder / "adapter_config.json").read_text(encoding="utf-8"))
    return adapter_config.get("base_model_name_or_path")


def model_folder(model_path: str) -> Path:
    """The local folder ``model_path`` names; ModelPathNotFoundError when there is none."""
    folder = resolve_path(model_path)
    if not folder.is_dir():
        raise ModelPathNotFoundError(
            f"model_path {model_path} is not a folder (looked at {folder})"
        )
    return folder


def check_allowed(
    model_path: str, base_model_name: str | None, config: ModelConfig, roots: Sequence[Path]
) -> None:
    """PathNotAllowedError unless the model, the base named with it and a LoRA adapter's own
    base all lie under one of ``roots`` (a client's request may read only from those)."""
    confine(local_model_path(model_path, config.cache_dir), roots, "model_path", ALLOWED_ROOTS)
    if base_model_name is not None:
        confine(
            local_model_path(base_model_name, config.cache_dir),
            roots,
            "base_model_name",
            ALLOWED_ROOTS,
        )
    adapter_config = resolve_path(local_model_path(model_path, config.cache_dir)) / (
        "adapter_config.json"
    )
    if adapter_config.is_file() and (base := adapter_base(adapter_config.parent, base_model_name)):
        confine(local_model_path(base, config.cache_dir), roots, "base model", ALLOWED_ROOTS)


def load_tokenizer(folder: str | Path) -> Any:
    """The tokenizer in ``folder``, which must carry a chat template (ModelLoadError)."""
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    except (OSError, ValueError) as error:
        raise ModelLoadError(f"cannot load tokenizer from {folder}: {error}") from error
    if tokenizer.chat_template is None:
        raise ModelLoadError(f"tokenizer at {folder} has no chat template")
    return tokenizer


def load_model(
    model_path: str,
    base_model_name: str | None,
    config: ModelConfig,
) -> LoadedModel:
    """Load ``model_path``: a full model (config.json), a LoRA adapter (adapter_config.json), or a
    model fetched by name (fetched and converted into ``config.cache_dir`` the first time).

    A lone adapter is merged into its base: an unmerged LoRA makes decoding ~1.8× slower.
    On CPU, ``config.cpu_quantization`` applies. A client's request is confined to its allowed
    folders before (``check_allowed``, by ``engines.load_engine``).
    """
    started = time.perf_counter()
    if model_path in model_sources() and not resolve_path(model_path).exists():
        folder = ensure_model(model_path, config.cache_dir)
    else:
        folder = model_folder(model_path)
    device = pick_device(config.device)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    adapter_config_file = folder / "adapter_config.json"

    if adapter_config_file.exists():
        if not (folder / "adapter_model.safetensors").is_file():
            raise ModelLoadError(
                f"{folder} has no adapter_model.safetensors: only safetensors adapters are loaded"
            )
        base = adapter_base(folder, base_model_name)
        if not base:
            raise ModelLoadError(
                f"{adapter_config_file} names no base model: pass base_model_name in the request"
            )
        base_source = resolve_model_source(base, config.cache_dir)
        base_model = _from_pretrained_full(base_source, dtype, device)
        try:
            model = PeftModel.from_pretrained(base_model, str(folder)).merge_and_unload()
        except (OSError, ValueError, RuntimeError) as error:
            raise ModelLoadError(
                f"cannot apply LoRA adapter {folder} to {base}: {error}"
            ) from error
        tokenizer_source = folder if (folder / "tokenizer_config.json").exists() else base_source
        model_type: Literal["full", "LoRA"] = "LoRA"
    elif (folder / "config.json").exists():
        base = base_model_name
        model = _from_pretrained_full(str(folder), dtype, device)
        tokenizer_source = folder
        model_type = "full"
    else:
        raise ModelLoadError(f"model_path {model_path} has no config.json or adapter_config.json")

    tokenizer = load_tokenizer(tokenizer_source)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    parameters = sum(p.numel() for p in model.parameters())
    quantization = "none"
    if device == "cpu" and config.cpu_quantization == "int8":
        model, quantization = quantize_int8(model, config.int8_skip_modules), "int8"

    loaded = LoadedModel(
        model=model,
        tokenizer=tokenizer,
        model_path=str(model_path),
        model_folder=str(folder),
        base_model_name=base,
        model_type=model_type,
        device=device,
        dtype=str(dtype).removeprefix("torch."),
        load_seconds=time.perf_counter() - started,
        quantization=quantization,
        parameters=parameters,
        tool_call_formats=tuple(config.tool_call_formats),
        prefix_cache=PrefixCache(config.prefix_cache_mb * 2**20),
    )
    logger.info(
        "model loaded: %s (%s, base=%s) on %s/%s, quantization %s, in %.1fs",
        model_path,
        model_type,
        base,
        device,
        loaded.dtype,
        quantization,
        loaded.load_seconds,
    )
    return loaded


def attached_adapters(loaded: LoadedModel) -> set[str]:
    """Names of the unmerged adapters loaded beside the base (see attach_adapter)."""
    return set(loaded.model.peft_config) if isinstance(loaded.model, PeftModel) else set()


def attach_adapter(loaded: LoadedModel, name: str, path: str) -> None:
    """Load a LoRA adapter unmerged under ``name``, beside the others, over the same base.

    The first one wraps the base in a PeftModel; requests then pick their adapter per row.
    """
    if not (resolve_path(path) / "adapter_config.json").is_file():
        # Checked here too: peft would take a missing folder for a hub repository id.
        raise ModelLoadError(f"cannot load LoRA adapter {path}: no adapter_config.json there")
    try:
        if isinstance(loaded.model, PeftModel):
            loaded.model.load_adapter(path, adapter_name=name)
        else:
            loaded.model = PeftModel.from_pretrained(loaded.model, path, adapter_name=name)
    except (OSError, ValueError, RuntimeError, KeyError) as error:
        raise ModelLoadError(f"cannot load LoRA adapter {path}: {error}") from error
    loaded.model.eval()
    logger.info("adapter %s attached from %s", name, path)


def detach_adapter(loaded: LoadedModel, name: str) -> None:
    """Drop an attached adapter; without any left the base runs without LoRA layers again."""
    model = loaded.model
    if not isinstance(model, PeftModel) or name not in model.peft_config:
        return
    if len(model.peft_config) == 1:
        loaded.model = model.unload()
    else:
        model.delete_adapter(name)
    loaded.prefix_cache.drop_adapter(name)
    logger.info("adapter %s detached", name)
