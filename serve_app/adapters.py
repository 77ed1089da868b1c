"""Per-request LoRA adapters: their names, the registry of name → folder, and folder checks.

Pure logic without Ray. The registry is one JSON file under ``output.dir`` written atomically
under a file lock, so every ingress replica sees the same adapters and they survive a restart.
Model replicas never read it: the ingress sends the folder with each request, and replicas load
adapters on demand (Serve model multiplexing routes a request to a replica that has it).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from configs.atomic_files import atomic_write_text, file_lock
from configs.settings import resolve_path
from llm.model_sources import local_model_path
from serve_app.openai_compat import OpenAIError

REGISTRY_FILE = "lora_adapters.json"
# Letters, digits and . _ - (no ':' — it separates base and adapter in a request's `model`).
_ADAPTER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class AdapterError(OpenAIError):
    """A bad adapter request or an unknown adapter, answered in OpenAI's error shape."""


@dataclass(frozen=True)
class AdapterEntry:
    name: str
    path: str
    base_model: str
    # Changes on every registration, so a name registered again never meets a stale replica copy.
    version: str
    created: int

    @property
    def model_id(self) -> str:
        """The Serve multiplexed model id of this registration."""
        return f"{self.name}@{self.version}"


def check_adapter_name(name: str, base_id: str) -> None:
    if not _ADAPTER_NAME.fullmatch(name):
        raise AdapterError(
            400,
            f"lora_name {name!r} must start with a letter or digit and hold at most 64 letters, "
            "digits, '.', '_' or '-' (':' separates base and adapter in `model`)",
            "lora_name",
        )
    if name == base_id:
        raise AdapterError(400, f"lora_name {name!r} is the base model's id", "lora_name")


def same_model(a: str, b: str, cache_dir: str) -> bool:
    """Local folders compare by resolved path, a model fetched by name by its folder in
    ``cache_dir``; hub-style names compare as written."""
    path_a = resolve_path(local_model_path(a, cache_dir))
    path_b = resolve_path(local_model_path(b, cache_dir))
    if path_a.exists() and path_b.exists():
        return path_a.resolve() == path_b.resolve()
    return a == b


def check_adapter_folder(path: str, served_base: str, cache_dir: str) -> tuple[Path, str]:
    """The resolved folder and base model of a LoRA adapter that may be served over
    ``served_base``; raises AdapterError (400) naming what is wrong."""
    folder = resolve_path(path)
    config_file = folder / "adapter_config.json"
    if not folder.is_dir():
        raise AdapterError(400, f"lora_path {path} is not a folder", "lora_path")
    if not config_file.is_file():
        raise AdapterError(400, f"lora_path {path} has no adapter_config.json", "lora_path")
    if not (folder / "adapter_model.safetensors").is_file():
        raise AdapterError(400, f"lora_path {path} has no adapter_model.safetensors", "lora_path")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise AdapterError(400, f"{config_file} is not valid JSON: {error}", "lora_path") from None
    if not isinstance(config, dict) or config.get("peft_type") != "LORA":
        raise AdapterError(400, f"{config_file} does not describe a LoRA adapter", "lora_path")
    base = config.get("base_model_name_or_path")
    if not base or not same_model(base, served_base, cache_dir):
        raise AdapterError(
            400,
            f"adapter {path} was made for base model {base!r}, but the served base is "
            f"{served_base!r}",
            "lora_path",
        )
    return folder, base


def split_model_name(requested: str, base_id: str, base_path: str) -> tuple[bool, str | None]:
    """(names the served base, adapter name) of a request's ``model``.

    ``<base>`` → (True, None); ``<base>:<adapter>`` → (True, adapter); anything else is taken as
    an adapter's own name → (False, requested).
    """
    if requested in (base_id, base_path):
        return True, None
    base, sep, adapter = requested.rpartition(":")
    if sep and base in (base_id, base_path) and adapter:
        return True, adapter
    return False, requested


class AdapterRegistry:
    """name → adapter folder, persisted in ``<output.dir>/lora_adapters.json``."""

    def __init__(self, output_dir: str | Path) -> None:
        self.file = resolve_path(output_dir) / REGISTRY_FILE
        self._lock_file = self.file.with_name(self.file.name + ".lock")

    def entries(self) -> dict[str, AdapterEntry]:
        if not self.file.exists():
            return {}
        data = json.loads(self.file.read_text(encoding="utf-8"))
        return {name: AdapterEntry(**entry) for name, entry in data.items()}

    def get(self, name: str) -> AdapterEntry:
        entry = self.entries().get(name)
        if entry is None:
            raise AdapterError(
                404,
                f"adapter {name!r} is not loaded; GET /v1/models lists what is served",
                "model",
                "model_not_found",
            )
        return entry

    def add(self, name: str, path: Path, base_model: str) -> AdapterEntry:
        entry = AdapterEntry(
            name=name,
            path=str(path),
            base_model=base_model,
            version=uuid.uuid4().hex[:12],
            created=int(datetime.now(UTC).timestamp()),
        )
        with file_lock(self._lock_file):
            entries = self.entries()
            if name in entries:
                raise AdapterError(
                    400,
                    f"an adapter named {name!r} is already loaded (from {entries[name].path}); "
                    "unload it first",
                    "lora_name",
                )
            entries[name] = entry
            self._write(entries)
        return entry

    def remove(self, name: str) -> AdapterEntry:
        with file_lock(self._lock_file):
            entries = self.entries()
            if name not in entries:
                raise AdapterError(
                    404, f"adapter {name!r} is not loaded", "lora_name", "model_not_found"
                )
            entry = entries.pop(name)
            self._write(entries)
        return entry

    def _write(self, entries: dict[str, AdapterEntry]) -> None:
        data = {name: asdict(entry) for name, entry in sorted(entries.items())}
        atomic_write_text(self.file, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
