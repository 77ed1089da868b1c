"""An app bound to a network address without API keys refuses to serve (README "Security").

Bad input tried: http_options.host 0.0.0.0 with no key in the environment or a key file.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.serve_process import ServeApp

pytestmark = pytest.mark.slow


def test_no_keys_on_a_network_host_refuses_to_serve(tmp_path):
    app = ServeApp(
        tmp_path,
        {"model": {"load_on_start": False}},
        env={"MCP_TUNE_API_KEYS": ""},
        http_host="0.0.0.0",
    )
    app.launch()
    with app:
        deadline = time.monotonic() + 180
        while "refusing to start" not in app.log_file.read_text():
            assert time.monotonic() < deadline, app.log_file.read_text()[-4000:]
            time.sleep(0.5)
        log = app.log_file.read_text()
        assert "no API keys are configured" in log and "allow_unauthenticated_network" in log
        for route in ("/health", "/tools", "/config"):
            with pytest.raises(httpx.HTTPError):
                httpx.get(f"{app.url}{route}", timeout=5).raise_for_status()
