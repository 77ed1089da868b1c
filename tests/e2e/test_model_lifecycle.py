"""An app started without a model answers 404 where one is needed, then loads one at run time."""

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
    serve_app = ServeApp(workdir, config).start()
    try:
        yield serve_app
    finally:
        serve_app.stop()


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


def test_load_then_chat(client, tiny_model_dir):
    loaded = client.post("/model/load", json={"model_path": str(tiny_model_dir)})
    assert loaded.status_code == 200, loaded.text
    assert loaded.json()["model"]["model_type"] == "full"
    assert client.get("/health").json()["model_loaded"] is True
    chat = client.post("/chat", json={"messages": [{"role": "user", "content": "hi"}]})
    assert chat.status_code == 200
