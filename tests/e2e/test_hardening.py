"""Hardening over HTTP against the real app: tool safety, model and dataset paths, a killed model
replica, concurrent config updates, and schemathesis over /openapi.json.

Bad inputs tried, file tools: '../secret.txt', 'notes/../../secret.txt', an absolute path
outside ('/etc/passwd') and inside (the workspace's own absolute path), a symlink to a file
outside, a symlink to /etc, a symlink to /dev/zero, a FIFO, listing '..'; write_file outside
tools.write_dir and through '..'.
SSRF attempts: get_weather and web_search at a loopback stub (not allowed), the geocoder URL set
to the cloud metadata address (169.254.169.254) and to a private address (10.0.0.1), an MCP HTTP
server on loopback added at run time; then the same stub once loopback is allowed (it answers).
Tools that fail: an unexpected exception, a result over tools.max_result_chars.
Model paths: /etc, 'models/../configs', a real model folder outside every root, a base model
outside the roots; training: dataset_path /etc/passwd and outside data.allowed_roots, a base model
path outside the roots.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, note, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.json_stub import JsonStub
from tests.open_meteo_stub import open_meteo
from tests.ray_cluster import kill_replica
from tests.serve_process import ServeApp
from tests.tiny_model import TRAINED_TINY_MODEL
from tests.training_status import wait_for_status

pytestmark = pytest.mark.slow

SECRET = "top secret outside the workspace"


@pytest.fixture(scope="module")
def weather():
    with JsonStub(open_meteo) as stub:
        yield stub


@pytest.fixture(scope="module")
def app(tmp_path_factory, weather):
    workdir = tmp_path_factory.mktemp("hardening")
    workspace = workdir / "workspace"
    (workspace / "notes").mkdir(parents=True)
    (workspace / "notes" / "ok.txt").write_text("inside")
    (workdir / "secret.txt").write_text(SECRET)
    os.symlink(workdir / "secret.txt", workspace / "escape.txt")
    os.symlink("/etc", workspace / "etc")
    os.symlink("/dev/zero", workspace / "zero")
    os.mkfifo(workspace / "pipe")
    (workdir / "data").mkdir()
    config = {
        # A model that ends its replies: a random one writes up to any max_new_tokens a fuzzed
        # request asks for, past the fuzzer's 10 s timeout. Its folder is a root so jobs train it.
        "model": {
            "model_path": str(TRAINED_TINY_MODEL),
            "allowed_roots": [str(workdir / "hub"), str(TRAINED_TINY_MODEL.parent)],
        },
        "data": {"allowed_roots": [str(workdir / "data")]},
        "generation": {"max_new_tokens": 8},
        # Bursts here test concurrency and fuzzing, not rate limits (test_security covers those).
        "security": {"rate_limit_per_s": 0},
        "tools": {
            "functions": [
                "tools.builtin.calculator:calculate",
                "tools.builtin.weather:get_weather",
                "tools.builtin.search:web_search",
                "tools.builtin.files:list_files",
                "tools.builtin.files:read_file",
                "tools.builtin.files:write_file",
                "tests.hostile_tools:explode",
                "tests.hostile_tools:flood",
            ],
            "workspace_dir": str(workspace),
            "write_dir": "out",
            "max_result_chars": 2000,
            "weather_geocoding_url": f"{weather.url}/v1/search",
            "weather_forecast_url": f"{weather.url}/v1/forecast",
            "search_url": f"{weather.url}/search",
        },
    }
    with ServeApp(workdir, config).start() as serve_app:
        yield serve_app


def execute(client: httpx.Client, tool: str, **arguments) -> httpx.Response:
    return client.post("/tools/execute", json={"tool_name": tool, "arguments": arguments})


@pytest.mark.parametrize(
    ("tool", "path", "needle"),
    [
        ("read_file", "../secret.txt", "'..'"),
        ("read_file", "notes/../../secret.txt", "'..'"),
        ("read_file", "/etc/passwd", "absolute"),
        ("read_file", "{workspace}/notes/ok.txt", "absolute"),
        ("read_file", "escape.txt", "leads out of the workspace"),
        ("read_file", "etc/passwd", "leads out of the workspace"),
        ("read_file", "zero", "leads out of the workspace"),
        ("read_file", "pipe", "not a regular file"),
        ("list_files", "..", "'..'"),
        ("list_files", "etc", "leads out of the workspace"),
    ],
)
def test_file_tools_refuse_every_way_out(client, app, tool, path, needle):
    path = path.format(workspace=app.workdir / "workspace")
    response = execute(client, tool, path=path)
    assert response.status_code == 400, response.text
    assert needle in response.json()["detail"]
    assert SECRET not in response.text and "root:" not in response.text


def test_write_file_stays_in_its_folder(client, app):
    assert execute(client, "write_file", path="out/a.txt", content="ok").status_code == 200
    for path in ("notes/b.txt", "out/../b.txt", "b.txt"):
        refused = execute(client, "write_file", path=path, content="no")
        assert refused.status_code == 400, refused.text
    assert sorted(p.name for p in (app.workdir / "workspace").iterdir()) == [
        "escape.txt",
        "etc",
        "notes",
        "out",
        "pipe",
        "zero",
    ]
    assert execute(client, "read_file", path="out/a.txt").json()["result"]["content"] == "ok"


def test_network_tools_refuse_loopback_private_and_metadata_addresses(client, weather):
    weather.requests.clear()
    for tool, arguments in (("get_weather", {"location": "Bonn"}), ("web_search", {"query": "x"})):
        refused = execute(client, tool, **arguments)
        assert refused.status_code == 400, refused.text
        assert "tools.allowed_hosts" in refused.json()["detail"]
    for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/v1/search"):
        assert client.post("/config/update", json={"tools": {"weather_geocoding_url": url}})
        refused = execute(client, "get_weather", location="Berlin")
        assert refused.status_code == 400 and url.split("/")[2] in refused.json()["detail"]
    assert weather.requests == []
    # Allowing loopback opens exactly it: the same stub now answers.
    update = {"weather_geocoding_url": f"{weather.url}/v1/search", "allowed_hosts": ["127.0.0.1"]}
    assert client.post("/config/update", json={"tools": update}).status_code == 200
    try:
        answered = execute(client, "get_weather", location="Tokyo")
        assert answered.status_code == 200, answered.text
        assert answered.json()["result"]["location"].startswith("Tokyo")
    finally:
        client.post("/config/update", json={"tools": {"allowed_hosts": []}})


def test_an_mcp_http_server_on_loopback_added_at_run_time_is_refused(client):
    server = {"name": "internal", "url": "http://127.0.0.1:9/mcp", "connect_timeout_s": 5}
    added = client.post("/config/update", json={"tools": {"mcp_servers": [server]}})
    assert added.status_code == 200, added.text
    try:
        status = client.get("/status").json()
        (internal,) = status["mcp_servers"]
        assert internal["connected"] is False and internal["tools"] == []
        assert "tools.allowed_hosts" in internal["error"]
    finally:
        client.post("/config/update", json={"tools": {"mcp_servers": []}})


def test_a_failing_tool_is_an_error_result_not_a_500(client):
    failed = execute(client, "explode", reason="kaboom")
    assert failed.status_code == 400
    assert "RuntimeError: tool bug: kaboom" in failed.json()["detail"]
    flooded = execute(client, "flood", size=5000)
    assert flooded.status_code == 400 and "tools.max_result_chars" in flooded.json()["detail"]
    assert execute(client, "flood", size=100).json()["result"] == "x" * 100
    assert execute(client, "calculate", expression="6*7").json()["result"] == 42


def test_model_paths_outside_the_roots_are_403_and_nothing_changes(client, app):
    before = client.get("/model/info").json()
    outside = app.workdir / "elsewhere"
    shutil.copytree(TRAINED_TINY_MODEL, outside)
    adapter = app.workdir / "hub" / "adapter"
    adapter.mkdir(parents=True)
    for body in (
        {"model_path": "/etc"},
        {"model_path": "models/../configs"},
        {"model_path": str(outside)},
        {"model_path": str(adapter), "base_model_name": str(outside)},
    ):
        refused = client.post("/model/load", json=body)
        assert refused.status_code == 403, refused.text
        detail = refused.json()["detail"]
        assert "model.allowed_roots" in detail and str(app.workdir / "hub") in detail
    assert client.get("/model/info").json() == before


def test_training_paths_outside_the_roots_are_403_and_nothing_starts(client, app):
    for body in (
        {"dataset_path": "/etc/passwd"},
        {"dataset_path": str(app.workdir / "secret.txt")},
        {"config_updates": {"base_model_path": str(app.workdir / "elsewhere")}},
    ):
        refused = client.post("/training/start", json=body)
        assert refused.status_code == 403, refused.text
        assert "allowed_roots" in refused.json()["detail"]
    assert client.get("/training/jobs").json() == []


def test_20_concurrent_config_updates_leave_one_complete_result(client, app):
    def update(i: int) -> int:
        body = {"generation": {"max_new_tokens": 100 + i, "top_p": (i + 1) / 20}}
        return client.post("/config/update", json=body).status_code

    with ThreadPoolExecutor(20) as pool:
        assert list(pool.map(update, range(20))) == [200] * 20
    saved = yaml.safe_load(app.overrides_file.read_text())["generation"]
    winner = saved["max_new_tokens"] - 100
    assert 0 <= winner < 20 and saved["top_p"] == (winner + 1) / 20
    served = client.get("/config").json()["generation"]
    assert (served["max_new_tokens"], served["top_p"]) == (saved["max_new_tokens"], saved["top_p"])
    assert not list(app.overrides_file.parent.glob(".overrides.yaml.*"))  # no temp files left


def test_a_killed_model_replica_is_replaced_and_chat_works_again(client, app):
    ask = {"messages": [{"role": "user", "content": "hi"}]}
    assert client.post("/chat", json=ask).status_code == 200
    killed = kill_replica(app, "ModelServer")
    deadline = time.monotonic() + 180
    statuses = []
    while time.monotonic() < deadline:
        response = client.post("/chat", json=ask)
        statuses.append(response.status_code)
        if response.status_code == 200:
            break
        time.sleep(1)
    assert statuses[-1] == 200 and set(statuses) <= {200, 503}, statuses
    assert "ModelServer" in killed
    assert client.get("/health").json()["model_loaded"] is True


# Routes that start a training job, an upload or a model load are fuzzed elsewhere by hand:
# random bodies would only queue slow work on 2 cores.
UNFUZZED_PATHS = r"^/(training/start|huggingface/upload|model/load)$"
FUZZ_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_openapi_fuzz_finds_no_5xx_and_no_schema_violation(app):
    """schemathesis: bodies, queries and paths drawn from /openapi.json for every route; every
    answer must be below 500 and match a status code, content type and schema the route declares.

    Strategies per operation with plain Hypothesis (schemathesis' own pytest plugin reaches into
    pytest internals that change between pytest releases)."""
    schema = schemathesis.openapi.from_url(f"{app.url}/openapi.json")
    operations = [
        result.ok() for result in schema.exclude(path_regex=UNFUZZED_PATHS).get_all_operations()
    ]
    labels = {operation.label for operation in operations}
    assert {"POST /chat", "POST /v1/chat/completions", "POST /config/update"} <= labels, labels
    assert "POST /training/start" not in labels
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def answers_within_its_schema(case):
            note(case.operation.label)
            case.call_and_validate(checks=FUZZ_CHECKS)

        answers_within_its_schema()


def _app_processes(app: ServeApp) -> dict[int, str]:
    """Command lines of every process `serve run` started (its Ray cluster's, workers included)."""
    found = {}
    for process in psutil.Process(app.process.pid).children(recursive=True):
        try:
            found[process.pid] = " ".join(process.cmdline())
        except psutil.NoSuchProcess:
            continue
    return found


def test_a_killed_worker_resumes_and_a_restart_keeps_config_and_history(client, app):
    """Last in the module: it kills the app. A training worker is SIGKILLed after a checkpoint
    (the job resumes from it within max_failures), then the whole app is SIGKILLed while the job
    runs; a new app on the same folders keeps the config update and shows the job as failed
    because it was interrupted."""
    assert client.post("/config/update", json={"generation": {"max_new_tokens": 7}}).is_success
    user = [{"role": "user", "content": f"hi {i}"} for i in range(32)]
    rows = [{"messages": [turn, {"role": "assistant", "content": "hello"}]} for turn in user]
    dataset = app.workdir / "data" / "chat.jsonl"
    dataset.write_text("".join(json.dumps(row) + "\n" for row in rows))
    job = {
        "num_epochs": 400,
        "batch_size": 4,
        "checkpoint_every_steps": 4,
        "eval_max_examples": 0,
        "max_failures": 1,
    }
    started = client.post(
        "/training/start", json={"config_updates": job, "dataset_path": str(dataset)}
    )
    assert started.status_code == 200, started.text
    job_id = started.json()["job_id"]
    # Ray Train's controller owns a checkpoint once it wrote it to its snapshot; one reported
    # but not yet taken in dies with the worker.
    snapshot = app.workdir / "runs" / "ray_results" / job_id / "checkpoint_manager_snapshot.json"
    deadline = time.monotonic() + 240
    while not (snapshot.is_file() and json.loads(snapshot.read_text())["latest_checkpoint_result"]):
        assert time.monotonic() < deadline, client.get("/training/status").json()
        time.sleep(0.5)
    registered = json.loads(snapshot.read_text())["latest_checkpoint_result"]["metrics"]["step"]

    processes = _app_processes(app)
    workers = [pid for pid, line in processes.items() if "RayTrainWorker" in line]
    assert len(workers) == 1, processes
    worker = workers[0]
    os.kill(worker, signal.SIGKILL)
    resumed = wait_for_status(client, lambda s: s["resumed_from_steps"], timeout_s=240)
    assert resumed["state"] == "running" and resumed["resumed_from_steps"][0] >= registered >= 4
    wait_for_status(client, lambda s: s["step"] > resumed["resumed_from_steps"][0], 120)

    # The app dies with the job running: serve run, its Ray cluster and the training worker.
    descendants = _app_processes(app)
    os.killpg(app.process.pid, signal.SIGKILL)
    for pid in descendants:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    app.process.wait()
    config = yaml.safe_load(app.config_file.read_text())
    with (
        ServeApp(app.workdir, config).start() as restarted,
        httpx.Client(base_url=restarted.url, timeout=60) as again,
    ):
        assert again.get("/config").json()["generation"]["max_new_tokens"] == 7
        (record,) = again.get("/training/jobs").json()
        assert record["job_id"] == job_id
        assert record["progress"]["state"] == "failed"
        assert "interrupted" in record["progress"]["error"]
        assert again.get("/training/status").json()["is_training"] is False
