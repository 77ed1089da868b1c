"""Training over HTTP against the real app: refusals, progress, stop, finish, evaluation, serving.

The base is the trained tiny model (TRAINED_TINY_MODEL), which writes tool calls. The finished job
teaches it a behaviour it does not have (answer "what time is it?" with `get_current_time` and no
arguments), so accuracy must rise.
Bad inputs tried: config_updates of a wrong type, an unknown field and an out-of-range value, a
missing dataset file, a dataset with bad rows, an init_adapter that is no adapter or comes with
full fine-tuning, a second start while a job runs, stop with no job, an unknown job id.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from tests.prometheus import wait_for_sample
from tests.ray_cluster import metrics_url
from tests.serve_process import ServeApp
from tests.tiny_model import TRAINED_TINY_MODEL
from tests.training_status import wait_for_status

pytestmark = pytest.mark.slow

SHORT_JOB = {
    "num_epochs": 4,
    "batch_size": 8,
    "learning_rate": 0.003,
    "eval_max_examples": 12,
    "checkpoint_every_steps": 10,
}
ASKS = [
    "现在几点了？",
    "几点了",
    "告诉我现在的时间",
    "What time is it?",
    "what's the time now",
    "Tell me the current time",
    "请问现在是什么时间",
    "Current time please",
    "现在时间是多少",
    "Do you know what time it is?",
    "time?",
    "报一下时间",
]
OPENERS = [
    "",
    "你好，",
    "Hi, ",
    "请问",
    "Hey! ",
    "麻烦",
    "Quick question: ",
    "嗯，",
    "Please, ",
    "朋友，",
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("training")
    config = {
        # Its folder is a model root, so that jobs may train it.
        "model": {
            "model_path": str(TRAINED_TINY_MODEL),
            "allowed_roots": [str(TRAINED_TINY_MODEL.parent)],
        },
        "data": {
            "num_generated_examples": 160,
            "eval_rows_per_category": 4,
            "seed": 1,
            "allowed_roots": [str(workdir)],
        },
        "tools": {
            "workspace_dir": str(workdir / "workspace"),
            "functions": [
                "tools.builtin.clock:get_current_time",
                "tools.builtin.calculator:calculate",
            ],
        },
    }
    with ServeApp(workdir, config).start() as serve_app:
        yield serve_app


@pytest.fixture(scope="module")
def clock_dataset(app, client) -> Path:
    """A user's dataset in the OpenAI format, offering the app's own tools."""
    schemas = client.get("/tools").json()["tool_schemas"].values()
    tools = [{"type": "function", "function": schema} for schema in schemas]
    rows = [
        {
            "messages": [
                {"role": "user", "content": opener + ask},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {
                            "id": "call_0",
                            "type": "function",
                            "function": {"name": "get_current_time", "arguments": {}},
                        }
                    ],
                },
            ],
            "tools": tools,
        }
        for ask, opener in itertools.product(ASKS, OPENERS)
    ]
    path = app.workdir / "clock.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return path


def test_no_job_yet(client):
    status = client.get("/training/status").json()
    assert status["is_training"] is False and status["progress"] == 0
    assert client.post("/training/stop").status_code == 404
    assert client.get("/training/jobs").json() == []
    assert client.get("/training/jobs/job-nope").status_code == 404


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"config_updates": {"batch_size": "eight"}}, "batch_size"),
        ({"config_updates": {"not_a_field": 1}}, "not_a_field"),
        ({"config_updates": {"learning_rate": -1}}, "learning_rate"),
        ({"dataset_path": "{workdir}/no/such/dataset.jsonl"}, "dataset.jsonl"),
        # A full model folder, not an adapter to go on training.
        ({"config_updates": {"init_adapter": str(TRAINED_TINY_MODEL)}}, "not a LoRA adapter"),
        ({"config_updates": {"init_adapter": "x", "method": "full"}}, "set method to lora"),
    ],
)
def test_refused_start_leaves_no_job(client, app, body, needle):
    if "dataset_path" in body:
        body = {"dataset_path": body["dataset_path"].format(workdir=app.workdir)}
    response = client.post("/training/start", json=body)
    assert response.status_code == 400, response.text
    assert needle in response.json()["detail"]
    assert client.get("/training/jobs").json() == []


def test_invalid_dataset_rows_are_listed_and_nothing_starts(client, app):
    bad = app.workdir / "bad.jsonl"
    call = {"type": "function", "function": {"name": "calculate", "arguments": {"expression": 42}}}
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "hello"},
                ]
            }
        ),
        "{not json",
        json.dumps({"messages": [{"role": "wizard", "content": "x"}]}),
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {"role": "assistant", "content": "", "tool_calls": [call]},
                ]
            }
        ),
    ]
    bad.write_text("\n".join(lines) + "\n")
    response = client.post("/training/start", json={"dataset_path": str(bad)})
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "line 2" in detail and "line 3" in detail and "line 4" in detail
    assert client.get("/training/jobs").json() == []


def test_stop_keeps_last_checkpoint(client, app):
    long_job = {**SHORT_JOB, "num_epochs": 50, "eval_max_examples": 0}
    started = client.post("/training/start", json={"config_updates": long_job})
    assert started.status_code == 200, started.text
    job_id = started.json()["job_id"]
    assert client.post("/training/start", json={}).status_code == 409
    running = wait_for_status(client, lambda s: s["step"] >= 3)
    assert running["is_training"] is True and running["state"] == "running"
    assert running["loss"] is not None and running["tokens_per_second"] > 0
    assert running["total_steps"] > running["step"]
    url, job = metrics_url(app), {"job_id": job_id}
    assert wait_for_sample(url, "ray_mcp_tune_training_step", job) >= 1
    assert wait_for_sample(url, "ray_mcp_tune_training_loss", job) > 0
    assert wait_for_sample(url, "ray_mcp_tune_training_tokens_per_second", job) > 0
    assert client.post("/training/stop").status_code == 200
    stopped = wait_for_status(client, lambda s: s["state"] in ("stopped", "failed"), timeout_s=120)
    assert stopped["state"] == "stopped", stopped
    assert stopped["step"] < stopped["total_steps"]
    assert Path(stopped["checkpoint_path"]).is_dir()
    assert (Path(stopped["adapter_path"]) / "adapter_model.safetensors").is_file()
    record = client.get(f"/training/jobs/{job_id}").json()
    assert record["progress"]["state"] == "stopped"


def test_finished_job_beats_base_and_its_adapter_serves(client, clock_dataset):
    job = {**SHORT_JOB, "auto_load_adapter": True}
    started = client.post(
        "/training/start", json={"config_updates": job, "dataset_path": str(clock_dataset)}
    )
    assert started.status_code == 200, started.text
    progress_seen = []
    done = wait_for_status(
        client,
        lambda s: progress_seen.append(s["progress"]) or s["state"] in ("succeeded", "failed"),
        timeout_s=600,
    )
    assert done["state"] == "succeeded", done
    assert done["progress"] == 100 and len(done["loss_history"]) == done["total_steps"]
    assert sorted(progress_seen) == progress_seen  # progress only rises
    before, after = done["evaluation"]["before"], done["evaluation"]["after"]
    assert after["accuracy"] > before["accuracy"], done["evaluation"]

    adapter = Path(done["adapter_path"])
    for name in (
        "adapter_config.json",
        "adapter_model.safetensors",
        "training_config.json",
        "dataset_summary.json",
        "evaluation.json",
    ):
        assert (adapter / name).is_file(), name
    # training.auto_load_adapter: by 'succeeded' the replica serves the adapter, no restart.
    assert "adapter now served" in done["message"], done["message"]
    info = client.get("/model/info").json()
    assert (info["model_path"], info["model_type"]) == (str(adapter), "LoRA")
    answer = client.post("/chat/simple", json={"text": "现在几点了？"}).json()
    assert [call["name"] for call in answer["tool_calls"]] == ["get_current_time"], answer
    assert "datetime" in answer["tool_results"][0]
    assert len(client.get("/training/jobs").json()) == 2


def test_two_workers_train_with_ddp(client):
    job = {
        **SHORT_JOB,
        "num_epochs": 1,
        "num_workers": 2,
        "cpus_per_worker": 0.5,
        "eval_max_examples": 0,
    }
    started = client.post("/training/start", json={"config_updates": job})
    assert started.status_code == 200, started.text
    done = wait_for_status(client, lambda s: s["state"] in ("succeeded", "failed"), timeout_s=600)
    assert done["state"] == "succeeded", done
    assert done["step"] == done["total_steps"] > 0
