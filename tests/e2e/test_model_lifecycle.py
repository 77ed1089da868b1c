"""An app started without a model answers 404 where one is needed, then loads one at run time,
and every model replica serves the loaded model, not only the one that handled the load."""

from __future__ import annotations

import pytest

from tests.serve_process import ServeApp

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app(tmp_path_factory, tiny_model_dir):
    workdir = tmp_path_factory.mktemp("no_model")
    config = {
        "model": {
            "model_path": str(tiny_model_dir),
            "load_on_start": False,
            "allowed_roots": [str(tiny_model_dir.parent)],
        }
    }
    replicas = {"ModelServer": {"num_replicas": 2, "ray_actor_options": {"num_cpus": 0.25}}}
    with ServeApp(workdir, config, deployments=replicas).start() as serve_app:
        yield serve_app


def test_no_model_loaded_is_404_not_500(client):
    assert client.get("/health").json()["model_loaded"] is False
    assert client.get("/model/info").status_code == 404
    chat = client.post("/chat", json={"messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 404 and "/model/load" in chat.json()["detail"]
    assert client.post("/chat/simple", json={"text": "hi"}).status_code == 404
    # Tools do not need the model.
    calc = client.post(
        "/tools/execute", json={"tool_name": "calculate", "arguments": {"expression": "6*7"}}
    )
    assert calc.json()["result"] == 42


def test_load_then_every_replica_chats(client, app, tiny_model_dir):
    loaded = client.post("/model/load", json={"model_path": str(tiny_model_dir)})
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["model"]["model_type"] == "full"
    assert loaded.json()["message"].startswith(f"loaded {tiny_model_dir} (full model, ")
    # The load reached one of the two replicas; the other follows the persisted choice, so no
    # request lands on a replica without the model (each would be a 404).
    infos = [client.get("/model/info") for _ in range(10)]
    assert {(info.status_code, info.json().get("model_path")) for info in infos} == {
        (200, str(tiny_model_dir))
    }
    ask = {"messages": [{"role": "user", "content": "hi"}]}
    assert [client.post("/chat", json=ask).status_code for _ in range(6)] == [200] * 6
    assert client.get("/health").json()["model_loaded"] is True
    # Persisted: a replaced replica or a restarted app serves it too.
    served = client.get("/config").json()["model"]
    assert (served["model_path"], served["load_on_start"]) == (str(tiny_model_dir), True)
