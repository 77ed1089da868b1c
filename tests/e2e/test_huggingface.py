"""Hugging Face Hub upload over HTTP against the real app and a loopback stand-in of the hub.

No machine here reaches the hub: the app gets the stub's URL through HF_ENDPOINT and the token
through the variable named by huggingface.token_env, both set before `serve run` starts. The
trained folders are written by the test as job records (train_app.jobs.JobStore) in the app's
output folder, so no training job has to run. Bad inputs tried: no repo_id anywhere, a malformed
repo_id, an unknown job, a job without a trained folder, an unknown field, an unknown upload id,
a second upload while one runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.hub_stub import HubStub
from tests.serve_process import ServeApp
from train_app.jobs import JobStore

pytestmark = pytest.mark.slow

TOKEN = "hf_e2e_secret_token_0123456789"
TOKEN_ENV = "MCP_TUNE_E2E_HF_TOKEN"
TRAINED = "job-20260102-000000-aaaa"
FAILED = "job-20260103-000000-bbbb"  # newer, but it left no trained folder
ADAPTER_FILES = {
    "adapter_config.json": json.dumps({"base_model_name_or_path": "Qwen/Qwen2-0.5B-Instruct"}),
    "adapter_model.safetensors": "not really weights, but bytes all the same",
    "tokenizer_config.json": "{}",
    "evaluation.json": "{}",
}


def job_record(job_id: str, created_at: str, state: str, adapter_path: str | None) -> dict:
    return {
        "job_id": job_id,
        "created_at": created_at,
        "dataset": {"source": "generated from the tool registry", "train_rows": 36},
        "training_config": {"method": "lora", "num_epochs": 1, "lora_r": 8},
        "base_model_path": "Qwen/Qwen2-0.5B-Instruct",
        "progress": {"job_id": job_id, "state": state, "is_training": False, "message": state},
        "adapter_path": adapter_path,
        "checkpoint_path": None,
        "evaluation": {
            "before": {"accuracy": 0.1, "tool_name_accuracy": 0.2, "correct": 1, "total": 10},
            "after": {"accuracy": 0.9, "tool_name_accuracy": 1.0, "correct": 9, "total": 10},
        }
        if state == "succeeded"
        else {},
    }


def write_jobs(output_dir: Path) -> Path:
    store = JobStore(output_dir)
    adapter = store.job_dir(TRAINED) / "adapter"
    adapter.mkdir(parents=True)
    for name, text in ADAPTER_FILES.items():
        (adapter / name).write_text(text)
    store.save(job_record(TRAINED, "2026-01-02T00:00:00+00:00", "succeeded", str(adapter)))
    store.save(job_record(FAILED, "2026-01-03T00:00:00+00:00", "failed", None))
    return adapter


@pytest.fixture(scope="module")
def hub():
    with HubStub(TOKEN) as stub:
        yield stub


@pytest.fixture(scope="module")
def app(tmp_path_factory, hub):
    workdir = tmp_path_factory.mktemp("huggingface")
    write_jobs(workdir / "runs")
    config = {
        "model": {"load_on_start": False},
        "huggingface": {"token_env": TOKEN_ENV, "request_timeout_s": 3.0},
    }
    with pytest.MonkeyPatch.context() as env:
        # ServeApp hands os.environ to `serve run`, and Ray's workers inherit it.
        env.setenv("HF_ENDPOINT", hub.url)
        env.setenv(TOKEN_ENV, TOKEN)
        env.setenv("HF_HUB_DISABLE_TELEMETRY", "1")  # the client would fetch a registry too
        serve_app = ServeApp(workdir, config).start()
    with serve_app:
        yield serve_app


def hub_calls(hub: HubStub) -> list[str]:
    """What the app asked the hub, reachability probes left out."""
    return [f"{r.method} {r.path}" for r in hub.requests if r.path != "/api/whoami-v2"]


def wait_for_upload(client: httpx.Client, upload_id: str, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        upload = client.get("/huggingface/status").json()["upload"]
        assert upload["upload_id"] == upload_id
        if upload["state"] in ("succeeded", "failed"):
            return upload
        time.sleep(0.2)
    raise TimeoutError(f"upload {upload_id} did not end in {timeout_s}s")


def test_status_says_a_token_is_set_but_never_shows_it(client, hub):
    answer = client.get("/huggingface/status")
    assert answer.status_code == 200
    assert answer.json() == {
        "token_present": True,
        "token_env": TOKEN_ENV,
        "repo_id": None,
        "private": True,
        "endpoint": hub.url,
        "hub_reachable": True,
        "available": True,
        "authenticated": True,
        "upload": None,
    }
    assert TOKEN not in answer.text


def test_bad_uploads_are_refused_and_change_nothing(client, app, hub):
    no_repo = client.post("/huggingface/upload", json={})
    assert no_repo.status_code == 400 and "repo_id" in no_repo.json()["detail"]
    malformed = client.post("/huggingface/upload", json={"repo_id": "a/b/c"})
    assert malformed.status_code == 400 and malformed.json()["detail"].startswith("repo_id:")
    unknown = client.post("/huggingface/upload", json={"repo_id": "team/x", "job_id": "job-nope"})
    assert unknown.status_code == 404 and "job-nope" in unknown.json()["detail"]
    untrained = client.post("/huggingface/upload", json={"repo_id": "team/x", "job_id": FAILED})
    assert untrained.status_code == 404 and "no trained model" in untrained.json()["detail"]
    extra = client.post("/huggingface/upload", json={"repo_id": "team/x", "branch": "dev"})
    assert extra.status_code == 422
    assert client.get("/huggingface/uploads/upload-nope").status_code == 404

    assert hub_calls(hub) == []
    assert client.get("/huggingface/status").json()["upload"] is None
    assert not list((app.workdir / "runs" / "uploads").glob("*.json"))


def test_upload_runs_in_the_background_and_lands_on_the_hub(client, app, hub):
    hub.stall_s["/api/models/team/e2e-adapter/preupload/main"] = 1.5  # time to try a second one
    started = client.post("/huggingface/upload", json={"repo_id": "team/e2e-adapter"})
    assert started.status_code == 202, started.text
    upload = started.json()
    assert upload["state"] in ("pending", "uploading")
    assert upload["job_id"] == TRAINED  # the latest job that succeeded, not the newer failed one
    assert upload["endpoint"] == hub.url and upload["private"] is True

    again = client.post("/huggingface/upload", json={"repo_id": "team/other"})
    assert again.status_code == 409 and upload["upload_id"] in again.json()["detail"]
    began = time.monotonic()
    assert client.get("/health").status_code == 200  # the ingress answers while bytes go out
    assert time.monotonic() - began < 1.0

    done = wait_for_upload(client, upload["upload_id"])
    assert done["state"] == "succeeded", done["error"]
    assert done["error"] is None and done["finished_at"]
    repo = hub.repos["team/e2e-adapter"]
    assert done["commit_url"] == f"{hub.url}/team/e2e-adapter/commit/{repo.commits[0]['oid']}"
    assert client.get(f"/huggingface/uploads/{upload['upload_id']}").json() == done

    assert sorted(repo.files) == sorted([*ADAPTER_FILES, "README.md"])
    assert sorted(done["files"]) == sorted(repo.files)
    assert (
        repo.files["adapter_model.safetensors"]
        == ADAPTER_FILES["adapter_model.safetensors"].encode()
    )
    card = repo.files["README.md"].decode()
    assert "base_model: Qwen/Qwen2-0.5B-Instruct" in card and TRAINED in card
    assert "| strict accuracy | 10.0% (1/10) | 90.0% (9/10) |" in card
    assert repo.private is True
    assert hub_calls(hub) == [
        "POST /api/repos/create",
        "POST /api/validate-yaml",
        "POST /api/models/team/e2e-adapter/preupload/main",
        "POST /api/models/team/e2e-adapter/commit/main",
    ]
    assert {r.auth for r in hub.requests if r.path != "/api/whoami-v2"} == {"valid"}
    assert hub.unexpected == []


def test_a_failed_upload_says_why_and_the_next_one_may_start(client, hub):
    hub.stall_s["/api/repos/create"] = 6.0  # past huggingface.request_timeout_s (3 s)
    started = client.post(
        "/huggingface/upload", json={"repo_id": "team/slow", "job_id": TRAINED, "private": False}
    )
    assert started.status_code == 202
    failed = wait_for_upload(client, started.json()["upload_id"])
    assert failed["state"] == "failed" and failed["commit_url"] is None
    assert failed["error"].startswith("creating repository team/slow failed")
    assert "Timeout" in failed["error"] and failed["message"].startswith("upload failed")
    hub.stall_s.clear()

    retried = client.post("/huggingface/upload", json={"repo_id": "team/public", "private": False})
    assert retried.status_code == 202
    assert wait_for_upload(client, retried.json()["upload_id"])["state"] == "succeeded"
    assert hub.repos["team/public"].private is False


def test_the_token_is_in_no_answer_record_or_log(client, app):
    assert TOKEN not in client.get("/huggingface/status").text
    for path in app.workdir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".yaml", ".log"):
            assert TOKEN not in path.read_text(errors="replace"), path
