"""API keys: where they come from, how a presented key is checked, and when none are needed.

Keys come from an environment variable (comma-separated) and/or a file (one per line); never from
the YAML config or its update route. They are never logged: a key is named by a short digest.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from configs.settings import SecurityConfig, resolve_path
from configs.store import ConfigError

SECURITY_SECTION = "security"


class ExposedWithoutKeysError(RuntimeError):
    """The app would answer a network without API keys and nobody allowed that."""


def parse_keys(text: str, separator: str | None = None) -> frozenset[str]:
    """Keys of an env value (``separator=","``) or a key file (one per line, '#' comments)."""
    keys = set()
    lines = text.split(separator) if separator else text.splitlines()
    for line in lines:
        key = line.split("#", 1)[0].strip() if separator is None else line.strip()
        if key:
            keys.add(key)
    return frozenset(keys)


def key_id(key: str) -> str:
    """A name for a key that is safe to log and to use as a rate-limit bucket."""
    return "key-" + hashlib.sha256(key.encode()).hexdigest()[:12]


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (scheme case-insensitive)."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def matching_key(presented: str | None, keys: frozenset[str]) -> str | None:
    """The configured key equal to ``presented``, compared in constant time against every key."""
    if presented is None:
        return None
    found = None
    for key in keys:
        if hmac.compare_digest(presented.encode(), key.encode()):
            found = key
    return found


@dataclass
class KeyRing:
    """The configured keys, re-read when the env value or the key file changes (rotation)."""

    _cache: tuple[tuple[object, ...], frozenset[str]] | None = None

    def keys(self, config: SecurityConfig) -> frozenset[str]:
        env_value = os.environ.get(config.api_keys_env, "")
        path = resolve_path(config.api_keys_file) if config.api_keys_file else None
        signature: tuple[object, ...] = (config.api_keys_env, env_value, path)
        if path is not None:
            try:
                stat = path.stat()
            except FileNotFoundError as error:
                raise FileNotFoundError(
                    f"security.api_keys_file {path} does not exist: create it (one key per line) "
                    "or set api_keys_file to null"
                ) from error
            signature += (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self._cache is None or self._cache[0] != signature:
            keys = parse_keys(env_value, ",")
            if path is not None:
                keys |= parse_keys(Path(path).read_text(encoding="utf-8"))
            self._cache = (signature, keys)
        return self._cache[1]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_message(
    host: str | None, keys: frozenset[str], config: SecurityConfig
) -> tuple[bool, str]:
    """(is it a warning, the start-up line saying who can call the app); raises when the app
    must not start: no keys on a non-loopback (or unknown) host without explicit consent."""
    where = f"http_options.host {host}" if host else "an unknown http_options.host"
    if keys:
        return False, (
            f"API keys: {len(keys)} configured; every route but /health needs "
            f"'Authorization: Bearer <key>' ({where})"
        )
    if host is not None and is_loopback(host):
        return False, f"no API keys: serving without authentication on loopback only ({where})"
    if config.allow_unauthenticated_network:
        return True, (
            f"no API keys configured and {where} is not loopback: anyone who reaches "
            "this port can use every route (security.allow_unauthenticated_network is true)"
        )
    raise ExposedWithoutKeysError(
        f"refusing to start: {where} is not loopback and no API keys are configured; set "
        f"{config.api_keys_env} or security.api_keys_file, bind http_options.host to 127.0.0.1, "
        "or set security.allow_unauthenticated_network: true"
    )


def refuse_security_update(update: object) -> None:
    """POST /config/update may not touch keys or who may call: that is the operator's file."""
    if isinstance(update, dict) and SECURITY_SECTION in update:
        raise ConfigError(
            "security: cannot be changed through /config/update (API keys come only from the "
            "environment or security.api_keys_file); edit the config file and restart"
        )
