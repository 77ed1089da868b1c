"""Runs the real app with `serve run` on loopback, the way users start it, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from configs.settings import PROJECT_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_tiny_fixture_defaults(app_config: dict[str, Any]) -> dict[str, Any]:
    """The tiny fixtures were trained and are checked in fp32, greedy, without a repetition
    penalty; the shipped int8 and penalty defaults are for the real model (test_real_model)."""
    model = {"cpu_quantization": "none", **app_config["model"]}
    generation = {"repetition_penalty": 1.0, **app_config.get("generation", {})}
    return {**app_config, "model": model, "generation": generation}


class ServeApp:
    """`serve run` of serve_config.yaml, with the config files and port swapped for the test's."""

    def __init__(
        self,
        workdir: Path,
        app_config: dict[str, Any],
        env: dict[str, str] | None = None,
        deployments: dict[str, dict[str, Any]] | None = None,
        http_host: str = "127.0.0.1",
    ) -> None:
        """``env`` joins the app's environment (API keys); ``deployments`` overrides fields of
        serve_config.yaml's deployments by name (e.g. a tiny ``max_queued_requests``);
        ``http_host`` is the address Serve's proxy binds (the tests always call loopback)."""
        self.workdir = workdir
        self.env = env or {}
        self.config_file = workdir / "config.yaml"
        self.overrides_file = workdir / "overrides.yaml"
        # Jobs, checkpoints and config updates of a test stay in its own folder.
        app_config = {"output": {"dir": str(workdir / "runs")}, **app_config}
        if "model_path" in app_config.get("model", {}):
            app_config = with_tiny_fixture_defaults(app_config)
        self.config_file.write_text(yaml.safe_dump(app_config, allow_unicode=True))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        serve_config = yaml.safe_load((PROJECT_ROOT / "serve_config.yaml").read_text())
        serve_config["http_options"].update(host=http_host, port=self.port)
        for deployment in serve_config["applications"][0]["deployments"]:
            deployment.update((deployments or {}).get(deployment["name"], {}))
        serve_config["applications"][0]["args"] = {
            "config_file": str(self.config_file),
            "overrides_file": str(self.overrides_file),
        }
        self.serve_config_file = workdir / "serve_config.yaml"
        self.serve_config_file.write_text(yaml.safe_dump(serve_config))
        self.log_file = workdir / "serve.log"

    def start(self, timeout_s: float = 180.0) -> ServeApp:
        """Launch and wait until /health answers 200."""
        self.launch()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve run exited early:\n{self.log_file.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"app not healthy in {timeout_s}s:\n{self.log_file.read_text()[-4000:]}")

    def launch(self) -> None:
        """Start `serve run` without waiting for the app."""
        # PYTHONPATH reaches every Ray worker, so tests can offer tools defined under tests/.
        env = {**os.environ, **self.env, "RAY_DEDUP_LOGS": "0", "PYTHONPATH": str(PROJECT_ROOT)}
        env.pop("RAY_ADDRESS", None)
        self._log = open(self.log_file, "w")  # noqa: SIM115 (open while serve runs)
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("serve")), "run", str(self.serve_config_file)],
            cwd=PROJECT_ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            # A shell's background job ignores SIGINT, and children inherit that; serve run
            # needs it to shut Serve and its Ray cluster down cleanly.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )

    def __enter__(self) -> ServeApp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # serve run shuts Serve and Ray down on ^C
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
