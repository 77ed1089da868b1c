"""Per-request adapter names, the shared registry and adapter folder checks (no Ray)."""

from __future__ import annotations

import json

import pytest

from serve_app.adapters import (
    AdapterError,
    AdapterRegistry,
    check_adapter_folder,
    check_adapter_name,
    split_model_name,
)

BASE_PATH = "/srv/models/tiny"


def adapter_folder(tmp_path, base=BASE_PATH, name="a", weights=True, peft_type="LORA"):
    folder = tmp_path / name
    folder.mkdir()
    config = {"peft_type": peft_type, "base_model_name_or_path": base}
    (folder / "adapter_config.json").write_text(json.dumps(config))
    if weights:
        (folder / "adapter_model.safetensors").write_bytes(b"x")
    return folder


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("tiny", (True, None)),
        (BASE_PATH, (True, None)),
        ("tiny:sql", (True, "sql")),
        (f"{BASE_PATH}:sql", (True, "sql")),
        ("sql", (False, "sql")),
        ("other:sql", (False, "other:sql")),
        ("tiny:", (False, "tiny:")),
    ],
)
def test_model_names_pick_base_or_adapter(requested, expected):
    assert split_model_name(requested, "tiny", BASE_PATH) == expected


@pytest.mark.parametrize("name", ["a:b", "", "-x", "a b", "x" * 65, "tiny"])
def test_unusable_adapter_names_are_refused(name):
    with pytest.raises(AdapterError) as refused:
        check_adapter_name(name, "tiny")
    assert refused.value.status == 400 and refused.value.param == "lora_name"


def test_adapter_names_may_hold_dots_and_dashes():
    check_adapter_name("sql-v1.2_b", "tiny")


def test_adapter_folder_over_the_served_base_is_accepted(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    (tmp_path / "link").symlink_to(base)
    folder = adapter_folder(tmp_path, base=str(base))
    # The same folder reached another way still is the served base.
    assert check_adapter_folder(str(folder), str(tmp_path / "link"), str(tmp_path)) == (
        folder,
        str(base),
    )


def test_an_adapter_over_a_model_fetched_by_name_fits_its_cache_folder(tmp_path):
    """The shipped adapter names its base as written in llm/model_sources.yaml; the server
    reports the folder in model.cache_dir it loaded that model from."""
    served = tmp_path / "cache" / "qwen2.5-coder-0.5b-instruct"
    served.mkdir(parents=True)
    folder = adapter_folder(tmp_path, base="qwen2.5-coder-0.5b-instruct")
    found = check_adapter_folder(str(folder), str(served), str(tmp_path / "cache"))
    assert found == (folder, "qwen2.5-coder-0.5b-instruct")
    with pytest.raises(AdapterError, match="was made for base model"):
        check_adapter_folder(str(folder), str(served), str(tmp_path / "elsewhere"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"base": "Qwen/Qwen2-7B-Instruct"}, "was made for base model 'Qwen/Qwen2-7B-Instruct'"),
        ({"weights": False}, "no adapter_model.safetensors"),
        ({"peft_type": "IA3"}, "does not describe a LoRA adapter"),
    ],
)
def test_bad_adapter_folders_are_refused(tmp_path, kwargs, message):
    folder = adapter_folder(tmp_path, **kwargs)
    with pytest.raises(AdapterError, match=message) as refused:
        check_adapter_folder(str(folder), BASE_PATH, "/srv/cache")
    assert refused.value.status == 400 and refused.value.param == "lora_path"


def test_a_folder_without_adapter_config_or_no_folder_is_refused(tmp_path):
    with pytest.raises(AdapterError, match="has no adapter_config.json"):
        check_adapter_folder(str(tmp_path), BASE_PATH, "/srv/cache")
    with pytest.raises(AdapterError, match="is not a folder"):
        check_adapter_folder(str(tmp_path / "missing"), BASE_PATH, "/srv/cache")


def test_registry_is_shared_through_its_file_and_survives_a_restart(tmp_path):
    first, second = AdapterRegistry(tmp_path), AdapterRegistry(tmp_path)
    entry = first.add("sql", tmp_path / "a", BASE_PATH)
    assert second.get("sql") == entry  # another replica, or the app after a restart
    assert entry.model_id == f"sql@{entry.version}"


def test_a_name_registered_again_gets_a_new_model_id(tmp_path):
    registry = AdapterRegistry(tmp_path)
    old = registry.add("sql", tmp_path / "a", BASE_PATH)
    registry.remove("sql")
    new = registry.add("sql", tmp_path / "b", BASE_PATH)
    assert new.model_id != old.model_id  # replicas never serve the old folder's weights for it


def test_duplicate_and_unknown_names_change_nothing(tmp_path):
    registry = AdapterRegistry(tmp_path)
    entry = registry.add("sql", tmp_path / "a", BASE_PATH)
    with pytest.raises(AdapterError, match="already loaded") as duplicate:
        registry.add("sql", tmp_path / "b", BASE_PATH)
    assert duplicate.value.status == 400
    with pytest.raises(AdapterError) as unknown:
        registry.remove("nope")
    assert (unknown.value.status, unknown.value.code) == (404, "model_not_found")
    assert registry.entries() == {"sql": entry}
    registry.remove("sql")
    assert registry.entries() == {}
    with pytest.raises(AdapterError):
        registry.get("sql")
