"""The live configuration: shipped defaults plus the user's persisted updates.

``configs/default.yaml`` stays as shipped; ``POST /config/update`` accumulates partial updates in an
overrides file, so a changed default still reaches users who never touched that field. Every read
merges the two, so several ingress replicas see the same configuration.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from configs.atomic_files import atomic_write_text, file_lock
from configs.settings import AppConfig, resolve_path

logger = logging.getLogger(__name__)

DEFAULT_CONFIG_FILE = "configs/default.yaml"
DEFAULT_OVERRIDES_FILE = "runs/config_overrides.yaml"


class ConfigError(ValueError):
    """A configuration (file or update) that does not validate; the message names the field."""


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` merged in: nested mappings merge, everything else replaces."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def describe_validation_error(error: ValidationError) -> str:
    """One line per problem, each starting with the dotted path of the field."""
    lines = []
    for problem in error.errors():
        path = ".".join(str(part) for part in problem["loc"]) or "(root)"
        lines.append(f"{path}: {problem['msg']}")
    return "; ".join(lines)


def validate_config(data: dict[str, Any]) -> AppConfig:
    try:
        return AppConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error)) from error


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of sections, not {type(data).__name__}")
    return data


def load_config(config_file: str = DEFAULT_CONFIG_FILE) -> AppConfig:
    """Validate one YAML file on its own (the CLI's way in)."""
    return validate_config(read_yaml_mapping(resolve_path(config_file)))


class ConfigStore:
    """Reads, updates and persists the live configuration; safe across threads and processes."""

    def __init__(
        self,
        config_file: str = DEFAULT_CONFIG_FILE,
        overrides_file: str = DEFAULT_OVERRIDES_FILE,
    ) -> None:
        self.config_file = resolve_path(config_file)
        self.overrides_file = resolve_path(overrides_file)
        self._lock_file = self.overrides_file.with_name(self.overrides_file.name + ".lock")
        self._cached: tuple[tuple[Any, ...], AppConfig] | None = None

    def _signature(self) -> tuple[Any, ...]:
        """Changes whenever either file is rewritten (atomic writes replace the inode)."""
        stats: list[tuple[int, int, int] | None] = []
        for path in (self.config_file, self.overrides_file):
            try:
                stat = path.stat()
                stats.append((stat.st_ino, stat.st_mtime_ns, stat.st_size))
            except FileNotFoundError:
                stats.append(None)
        return tuple(stats)

    def get(self) -> AppConfig:
        """The current configuration; re-read only when a file changed (cheap per request)."""
        signature = self._signature()
        if self._cached is None or self._cached[0] != signature:
            defaults = read_yaml_mapping(self.config_file)
            config = validate_config(deep_merge(defaults, read_yaml_mapping(self.overrides_file)))
            self._cached = (signature, config)
        return self._cached[1].model_copy(deep=True)

    def update(self, partial: dict[str, Any]) -> AppConfig:
        """Merge ``partial`` into the persisted updates; nothing is written unless it validates."""
        if not isinstance(partial, dict):
            raise ConfigError("a config update must be a mapping of sections")
        with file_lock(self._lock_file):
            overrides = deep_merge(read_yaml_mapping(self.overrides_file), partial)
            config = validate_config(deep_merge(read_yaml_mapping(self.config_file), overrides))
            atomic_write_text(self.overrides_file, yaml.safe_dump(overrides, allow_unicode=True))
        logger.info("config updated: sections %s", sorted(partial))
        return config
