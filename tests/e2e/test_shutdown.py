"""Ctrl-C stops `serve run` quickly, with the model loaded and a stream open, and leaves nothing
running: the stream is cut, its generation cancelled (no replica waits out Serve's 20 s grace
period), and every process of the run is gone, the stdio MCP server's included.

The untrained tiny model rarely says eos, so its 4 000-token stream is still decoding when the
signal comes.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time

import httpx
import psutil
import pytest

from tests.serve_process import ServeApp

pytestmark = pytest.mark.slow

STOP_WITHIN_S = 10.0
STREAM_TOKENS = 4000


def read_stream(url: str, model: str, lines: list[str], started: threading.Event) -> None:
    """Append the stream's lines to ``lines`` until the server ends or cuts it."""
    request = {
        "model": model,
        "messages": [{"role": "user", "content": "tell me a long story"}],
        "max_tokens": STREAM_TOKENS,
        "stream": True,
    }
    try:
        with (
            httpx.Client(base_url=url, timeout=60) as http,
            http.stream("POST", "/v1/chat/completions", json=request) as answer,
        ):
            for line in answer.iter_lines():
                if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get(
                    "content"
                ):
                    started.set()
                lines.append(line)
    except httpx.HTTPError as error:
        lines.append(f"cut: {type(error).__name__}")
    started.set()


def test_ctrl_c_stops_serve_run_within_10_s_and_leaves_nothing_running(tmp_path, tiny_model_dir):
    config = {
        "model": {"model_path": str(tiny_model_dir)},
        "server": {"max_new_tokens": STREAM_TOKENS},
        "tools": {
            "functions": ["tools.builtin.calculator:calculate"],
            "mcp_servers": [
                {"name": "time", "command": sys.executable, "args": ["-m", "mcp_server_time"]}
            ],
        },
    }
    app = ServeApp(tmp_path, config).start()
    try:
        status = httpx.get(f"{app.url}/status", timeout=30).json()
        assert status["model_loaded"] and status["mcp_servers"][0]["connected"]
        model = httpx.get(f"{app.url}/v1/models", timeout=30).json()["data"][0]["id"]
        lines: list[str] = []
        started = threading.Event()
        reader = threading.Thread(target=read_stream, args=(app.url, model, lines, started))
        reader.start()
        assert started.wait(60) and not any(line == "data: [DONE]" for line in lines), lines[-3:]
        serve_run = psutil.Process(app.process.pid)
        run = [serve_run, *serve_run.children(recursive=True)]
        assert any("ModelServer" in " ".join(p.cmdline()) for p in run[1:] if p.is_running())

        sent = time.monotonic()
        os.kill(app.process.pid, signal.SIGINT)  # what Ctrl-C sends `serve run`
        app.process.wait(timeout=60)
        stopped_s = time.monotonic() - sent
        reader.join(30)
    finally:
        app.stop()
    _, alive = psutil.wait_procs(run[1:], timeout=5)
    left = [(p.pid, p.name()) for p in alive if p.status() != psutil.STATUS_ZOMBIE]
    for process in alive:  # leave the machine clean before failing
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    log = app.log_file.read_text()
    print(f"serve run stopped {stopped_s:.1f} s after SIGINT")
    assert stopped_s <= STOP_WITHIN_S, f"serve run took {stopped_s:.1f} s:\n{log[-3000:]}"
    assert "did not shut down after grace period" not in log
    assert lines[-1].startswith("cut:") and "data: [DONE]" not in lines
    assert not left, left
