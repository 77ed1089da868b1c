"""Model card and hub upload against a loopback stand-in of the hub's upload endpoints.

The hub cannot be reached here: tests/hub_stub.py answers the requests huggingface_hub makes for
create_repo and a commit, and records them.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from huggingface_hub import HfApi, constants

from serve_app.hub_upload import (
    PUBLIC_HUB,
    HubUploadError,
    hub_endpoint,
    hub_reachable,
    hub_token,
    publish_job,
    trained_files,
)
from serve_app.model_card import render_model_card
from serve_app.upload_tasks import UploadStore
from tests.hub_stub import USER, HubStub

TOKEN = "hf_unit_test_token_0123456789"
PEFT_TEMPLATE = "---\nbase_model: {base}\nlibrary_name: peft\n---\n\n# Model Card for Model ID\n"


def front_matter(card: str) -> dict:
    _, metadata, _ = card.split("---\n", 2)
    return yaml.safe_load(metadata)


def make_job(tmp_path: Path, method: str = "lora", base: str | None = None) -> dict:
    """A job record like GET /training/jobs/{id} returns, with a small trained folder."""
    base_dir = tmp_path / "base-model"
    base_dir.mkdir(exist_ok=True)
    base = base or str(base_dir)
    folder = tmp_path / ("adapter" if method == "lora" else "model")
    folder.mkdir()
    weights = "adapter_model.safetensors" if method == "lora" else "model.safetensors"
    (folder / weights).write_bytes(bytes(range(256)) * 8)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base}))
    (folder / "tokenizer_config.json").write_text("{}")
    (folder / "README.md").write_text(PEFT_TEMPLATE.format(base=base))
    (folder / ".adapter.tmp").write_text("half-written")
    return {
        "job_id": "job-20260101-000000-abcd",
        "created_at": "2026-01-01T00:00:00+00:00",
        "dataset": {"source": "generated | from the tool registry", "train_rows": 36},
        "training_config": {"method": method, "num_epochs": 3, "lora_r": 16},
        "base_model_path": base,
        "progress": {"state": "succeeded"},
        "adapter_path": str(folder),
        "evaluation": {
            "before": {
                "accuracy": 0.25,
                "lenient_accuracy": 0.5,
                "correct": 1,
                "total": 4,
                "by_category": {"simple": {"accuracy": 0.5}, "irrelevance": {"accuracy": 0.0}},
            },
            "after": {
                "accuracy": 0.75,
                "lenient_accuracy": 1.0,
                "correct": 3,
                "total": 4,
                "by_category": {"simple": {"accuracy": 1.0}, "irrelevance": {"accuracy": 0.5}},
            },
        },
    }


@pytest.fixture(autouse=True)
def no_telemetry(monkeypatch):
    """The client would otherwise fetch its agent registry from the public hub."""
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)


@pytest.fixture
def hub() -> Iterator[HubStub]:
    with HubStub(TOKEN) as stub:
        yield stub


def publish(job: dict, hub: HubStub, **overrides) -> object:
    arguments = {
        "repo_id": "team/tool-adapter",
        "private": True,
        "endpoint": hub.url,
        "token": TOKEN,
        "timeout_s": 10.0,
    }
    return publish_job(job, **{**arguments, **overrides})


# ------------------------------------------------------------------ model card


def test_card_reports_base_config_dataset_and_accuracy_before_after(tmp_path):
    job = make_job(tmp_path, base="Qwen/Qwen2-7B-Instruct")
    card = render_model_card(job, "team/tool-adapter", ["adapter_model.safetensors"], False)
    assert front_matter(card) == {
        "library_name": "peft",
        "base_model": "Qwen/Qwen2-7B-Instruct",
        "pipeline_tag": "text-generation",
        "tags": ["mcp-tune", "tool-calling", "lora"],
    }
    assert "job-20260101-000000-abcd" in card
    assert "| strict accuracy | 25.0% (1/4) | 75.0% (3/4) |" in card
    assert "| lenient accuracy | 50.0% | 100.0% |" in card
    assert "| irrelevance (strict) | 0.0% | 50.0% |" in card
    assert "| lora_r | 16 |" in card
    assert "| source | generated \\| from the tool registry |" in card  # a pipe stays in its cell
    assert "| train_rows | 36 |" in card
    assert 'PeftModel.from_pretrained(base, "team/tool-adapter")' in card
    assert 'AutoModelForCausalLM.from_pretrained("Qwen/Qwen2-7B-Instruct")' in card
    assert "hf download team/tool-adapter --local-dir models/tool-adapter" in card
    load = '{"model_path": "models/tool-adapter", "base_model_name": "Qwen/Qwen2-7B-Instruct"}'
    assert load in card


def test_card_never_names_a_local_base_folder_in_its_metadata(tmp_path):
    job = make_job(tmp_path)  # the base is a folder on this machine
    card = render_model_card(job, "team/tool-adapter", [], base_is_local=True)
    assert "base_model" not in front_matter(card)
    assert job["base_model_path"] in card  # still named in the text, for the reader
    relative = render_model_card({**job, "base_model_path": "models/tiny"}, "a/b", [], True)
    assert "base_model" not in front_matter(relative)


def test_full_fine_tuning_card_loads_with_transformers_alone(tmp_path):
    job = make_job(tmp_path, method="full")
    card = render_model_card(job, "team/tool-model", ["model.safetensors"], True)
    assert front_matter(card)["library_name"] == "transformers"
    assert "full-fine-tuning" in front_matter(card)["tags"]
    assert "PeftModel" not in card and "base_model_name" not in card
    assert 'AutoModelForCausalLM.from_pretrained("team/tool-model")' in card


def test_card_without_evaluation_says_it_was_not_evaluated(tmp_path):
    job = {**make_job(tmp_path), "evaluation": {}}
    card = render_model_card(job, "team/tool-adapter", [], True)
    assert "Not evaluated" in card and "tool-call accuracy |" not in card


# ------------------------------------------------------------------ upload


def test_publish_creates_the_repo_and_commits_the_folder_with_the_card(tmp_path, hub):
    job = make_job(tmp_path)
    steps: list[str] = []
    result = publish(job, hub, report=steps.append)

    assert [(r.method, r.path, r.auth) for r in hub.requests] == [
        ("POST", "/api/repos/create", "valid"),
        ("POST", "/api/validate-yaml", "valid"),
        ("POST", "/api/models/team/tool-adapter/preupload/main", "valid"),
        ("POST", "/api/models/team/tool-adapter/commit/main", "valid"),
    ]
    assert hub.unexpected == []
    repo = hub.repos["team/tool-adapter"]
    assert repo.private is True
    folder = Path(job["adapter_path"])
    assert sorted(repo.files) == [
        "README.md",
        "adapter_config.json",
        "adapter_model.safetensors",
        "tokenizer_config.json",
    ]  # hidden files stay home
    assert (
        repo.files["adapter_model.safetensors"]
        == (folder / "adapter_model.safetensors").read_bytes()
    )
    card = repo.files["README.md"].decode()
    assert card.startswith("---\nlibrary_name: peft\n") and "Model Card for Model ID" not in card
    assert repo.commits[0]["summary"] == "Upload job-20260101-000000-abcd trained with mcp-tune"
    assert result.repo_id == "team/tool-adapter"
    assert result.commit_url == f"{hub.url}/team/tool-adapter/commit/{repo.commits[0]['oid']}"
    assert sorted(result.files) == sorted(repo.files)
    assert steps == [
        "creating repository team/tool-adapter",
        f"uploading 4 files ({sum(len(v) for v in repo.files.values()):,} bytes) "
        "to team/tool-adapter",
    ]


def test_the_folder_as_trained_would_be_refused_so_the_card_replaces_its_readme(tmp_path, hub):
    """peft's README names the local base as base_model, which the hub's metadata check refuses."""
    job = make_job(tmp_path)
    api = HfApi(endpoint=hub.url, token=TOKEN)
    api.create_repo("team/as-is")
    with pytest.raises(ValueError, match="base_model"):
        api.upload_folder(repo_id="team/as-is", folder_path=job["adapter_path"])
    assert publish(job, hub).commit_url


def test_an_existing_repo_is_reused_and_keeps_its_visibility(tmp_path, hub):
    job = make_job(tmp_path)
    publish(job, hub, private=True)
    publish(job, hub, private=False)
    assert list(hub.repos) == ["team/tool-adapter"]
    assert hub.repos["team/tool-adapter"].private is True
    assert len(hub.repos["team/tool-adapter"].commits) == 2


def test_a_bare_repo_name_lands_in_the_token_owners_namespace(tmp_path, hub):
    result = publish(make_job(tmp_path), hub, repo_id="tool-adapter")
    assert result.repo_id == f"{USER}/tool-adapter"
    card = hub.repos[f"{USER}/tool-adapter"].files["README.md"].decode()
    assert f'PeftModel.from_pretrained(base, "{USER}/tool-adapter")' in card


def test_a_refused_token_fails_naming_the_step_but_never_the_token(tmp_path, hub):
    wrong = "hf_wrong_token_9876543210"
    with pytest.raises(HubUploadError) as failure:
        publish(make_job(tmp_path), hub, token=wrong)
    message = str(failure.value)
    assert message.startswith("creating repository team/tool-adapter failed")
    assert "401" in message and wrong not in message and TOKEN not in message
    assert hub.repos == {}


def test_a_stalled_hub_fails_the_upload_within_its_timeout(tmp_path, hub):
    hub.stall_s["/api/repos/create"] = 5.0
    started = time.monotonic()
    with pytest.raises(HubUploadError, match="creating repository.*Timeout"):
        publish(make_job(tmp_path), hub, timeout_s=0.5)
    assert time.monotonic() - started < 3.0


def test_a_vanished_trained_folder_uploads_nothing(tmp_path, hub):
    job = make_job(tmp_path)
    job["adapter_path"] = str(tmp_path / "deleted")
    with pytest.raises(HubUploadError, match="is gone or empty"):
        publish(job, hub)
    assert hub.requests == [] and hub.repos == {}


def test_trained_files_leave_out_hidden_files_and_the_folder_readme(tmp_path):
    folder = Path(make_job(tmp_path)["adapter_path"])
    (folder / "sub").mkdir()
    (folder / "sub" / "extra.json").write_text("{}")
    assert trained_files(folder) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "sub/extra.json",
        "tokenizer_config.json",
    ]


# ------------------------------------------------------------------ status helpers


def test_endpoint_is_hf_endpoint_else_the_public_hub(monkeypatch):
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    assert hub_endpoint() == PUBLIC_HUB
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/")
    assert hub_endpoint() == "http://127.0.0.1:9"


def test_a_blank_token_counts_as_no_token(monkeypatch):
    monkeypatch.setenv("MY_HF_TOKEN", "  ")
    assert hub_token("MY_HF_TOKEN") is None
    monkeypatch.setenv("MY_HF_TOKEN", TOKEN)
    assert hub_token("MY_HF_TOKEN") == TOKEN
    monkeypatch.delenv("MY_HF_TOKEN")
    assert hub_token("MY_HF_TOKEN") is None


def reachable(endpoint: str, timeout_s: float) -> bool:
    return asyncio.run(hub_reachable(endpoint, timeout_s))


def test_any_http_answer_means_reachable(hub):
    assert reachable(hub.url, 2.0) is True  # whoami without a token: 401
    assert hub.requests[-1].path == "/api/whoami-v2" and hub.requests[-1].auth == "missing"


def test_nothing_listening_means_unreachable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert reachable(f"http://127.0.0.1:{port}", 2.0) is False
    assert reachable("not a url", 2.0) is False


def test_a_silent_hub_is_unreachable_within_the_probe_timeout(hub):
    hub.stall_s["/api/whoami-v2"] = 5.0
    started = time.monotonic()
    assert reachable(hub.url, 0.3) is False
    assert time.monotonic() - started < 1.5


# ------------------------------------------------------------------ upload records


def test_uploads_left_unfinished_read_failed_after_a_restart(tmp_path):
    store = UploadStore(tmp_path / "uploads")
    running = {"upload_id": "upload-b", "created_at": "2026-01-02", "state": "uploading"}
    done = {"upload_id": "upload-a", "created_at": "2026-01-01", "state": "succeeded"}
    store.save(running)
    store.save(done)
    assert store.mark_interrupted() == ["upload-b"]
    assert store.get("upload-b")["state"] == "failed"
    assert "interrupted" in store.get("upload-b")["error"]
    assert store.get("upload-a") == done
    assert [r["upload_id"] for r in store.list()] == ["upload-b", "upload-a"]
    assert store.get("../uploads/upload-a") is None
