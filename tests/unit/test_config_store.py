"""The live configuration: merge, validation with field paths, atomic persistence."""

from __future__ import annotations

import threading

import pytest
import yaml

from configs.store import ConfigError, ConfigStore, deep_merge, load_config


@pytest.fixture
def store(tmp_path):
    defaults = tmp_path / "default.yaml"
    defaults.write_text(yaml.safe_dump({"training": {"batch_size": 4, "num_epochs": 2}}))
    return ConfigStore(str(defaults), str(tmp_path / "state" / "overrides.yaml"))


def test_deep_merge_keeps_sibling_keys():
    merged = deep_merge({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}})
    assert merged == {"a": {"x": 1, "y": 3}, "b": 1}


def test_shipped_default_yaml_validates():
    config = load_config()
    assert config.generation.temperature == 0.0
    assert "tools.builtin.calculator:calculate" in config.tools.functions


def test_update_merges_and_persists(store):
    store.update({"model": {"max_length": 4096}, "training": {"batch_size": 8}})
    reopened = ConfigStore(str(store.config_file), str(store.overrides_file)).get()
    assert reopened.model.max_length == 4096
    assert reopened.training.batch_size == 8
    assert reopened.training.num_epochs == 2  # untouched default survives the merge


@pytest.mark.parametrize(
    ("update", "field"),
    [
        ({"training": {"batch_size": "eight"}}, "training.batch_size"),
        ({"training": {"bogus": 1}}, "training.bogus"),
        ({"nonsection": {}}, "nonsection"),
        ({"generation": {"temperature": -1}}, "generation.temperature"),
        ({"tools": {"functions": ["os:nope"]}}, "tools.functions"),
        ({"model": "not a mapping"}, "model"),
    ],
)
def test_invalid_update_names_field_and_changes_nothing(store, update, field):
    store.update({"training": {"batch_size": 6}})
    before = store.overrides_file.read_bytes()
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        store.update(update)
    assert store.overrides_file.read_bytes() == before
    assert store.get().training.batch_size == 6


def test_concurrent_updates_all_land(store):
    threads = [
        threading.Thread(target=store.update, args=({"training": {"lora_r": i + 1}},))
        for i in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    persisted = yaml.safe_load(store.overrides_file.read_text())
    assert 1 <= persisted["training"]["lora_r"] <= 20
    assert store.get().training.lora_r == persisted["training"]["lora_r"]
