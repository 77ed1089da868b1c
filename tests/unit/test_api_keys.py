"""API keys: parsing, matching, rotation, and whether the app may start without them.

Bad inputs tried: blank and comment-only lines, spaces around keys, empty env entries (",,"),
other auth schemes ("Basic"), "Bearer" with no token, a key that is a prefix of a real one,
a missing key file, security updates through /config/update, hosts 0.0.0.0, :: and a name.
"""

from __future__ import annotations

import os

import pytest

from configs.settings import SecurityConfig
from configs.store import ConfigError
from serve_app.api_keys import (
    ExposedWithoutKeysError,
    KeyRing,
    bearer_token,
    exposure_message,
    key_id,
    matching_key,
    parse_keys,
    refuse_security_update,
)


def test_env_value_is_comma_separated_and_trimmed():
    assert parse_keys(" alpha , beta,,gamma ", ",") == {"alpha", "beta", "gamma"}
    assert parse_keys("", ",") == frozenset()


def test_key_file_has_one_key_per_line_with_comments():
    text = "# team keys\nalpha\n\n  beta  # laptop\n#gamma\n"
    assert parse_keys(text) == {"alpha", "beta"}


def test_bearer_token_takes_only_the_bearer_scheme():
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer ") is None
    assert bearer_token(None) is None


def test_only_an_exact_key_matches():
    keys = frozenset({"secret-key-1", "secret-key-2"})
    assert matching_key("secret-key-2", keys) == "secret-key-2"
    assert matching_key("secret-key", keys) is None
    assert matching_key("secret-key-10", keys) is None
    assert matching_key(None, keys) is None


def test_key_id_names_a_key_without_revealing_it():
    assert key_id("secret-key-1") != key_id("secret-key-2")
    assert "secret" not in key_id("secret-key-1")


def test_keyring_reads_env_and_file_and_follows_rotation(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_KEYS", "from-env")
    key_file = tmp_path / "keys"
    key_file.write_text("from-file\n")
    config = SecurityConfig(api_keys_env="TEST_KEYS", api_keys_file=str(key_file))
    ring = KeyRing()
    assert ring.keys(config) == {"from-env", "from-file"}
    key_file.write_text("rotated-key\n")
    os.utime(key_file, ns=(1, 1))  # a new mtime even within the clock's resolution
    monkeypatch.setenv("TEST_KEYS", "")
    assert ring.keys(config) == {"rotated-key"}


def test_missing_key_file_is_an_error_not_an_open_door(tmp_path):
    config = SecurityConfig(api_keys_file=str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="api_keys_file"):
        KeyRing().keys(config)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_without_keys_starts_and_says_so(host):
    warning, message = exposure_message(host, frozenset(), SecurityConfig())
    assert not warning and "loopback" in message


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "example.org", None])
def test_exposed_without_keys_refuses_to_start(host):
    with pytest.raises(ExposedWithoutKeysError, match="refusing to start"):
        exposure_message(host, frozenset(), SecurityConfig())


def test_exposed_without_keys_only_warns_when_allowed():
    config = SecurityConfig(allow_unauthenticated_network=True)
    warning, message = exposure_message("0.0.0.0", frozenset(), config)
    assert warning and "anyone" in message


def test_keys_are_counted_never_shown():
    warning, message = exposure_message("0.0.0.0", frozenset({"k-1", "k-2"}), SecurityConfig())
    assert not warning and "2 configured" in message and "k-1" not in message


def test_config_update_may_not_touch_security():
    with pytest.raises(ConfigError, match="security"):
        refuse_security_update({"security": {"api_keys_env": "UNSET"}})
    refuse_security_update({"generation": {"max_new_tokens": 8}})
