"""Reach the Ray cluster of one `serve run` from a test: kill its actors (chaos tests), find
its Prometheus metrics endpoint.

The address comes from the processes `serve run` started (its GCS client processes carry
``--gcs-address``), never from ``address="auto"``, which could pick another cluster on the host.
Each look-up runs in a child Python process so the test process never joins a Ray cluster.
"""

from __future__ import annotations

import os
import subprocess
import sys

import psutil

from configs.settings import PROJECT_ROOT
from tests.serve_process import ServeApp

_KILL_REPLICA = """
import sys, ray
ray.init(address=sys.argv[1], namespace="serve", log_to_driver=False)
names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
         if a["namespace"] == "serve" and f"#{sys.argv[2]}#" in a["name"]]
assert names, f"no replica of {sys.argv[2]}"
ray.kill(ray.get_actor(names[0], namespace="serve"), no_restart=True)
print(names[0])
"""

# The node picks its metrics export port when it starts; the GCS knows it.
_METRICS_PORT = """
import sys, ray
ray.init(address=sys.argv[1], log_to_driver=False)
[port] = [node["MetricsExportPort"] for node in ray.nodes() if node["Alive"]]
print(port)
"""


def gcs_address(app: ServeApp) -> str:
    """The GCS address of the Ray cluster `serve run` started for ``app``."""
    for process in psutil.Process(app.process.pid).children(recursive=True):
        try:
            cmdline = process.cmdline()
        except psutil.NoSuchProcess:
            continue
        for arg in cmdline:
            if arg.startswith("--gcs-address="):
                return arg.split("=", 1)[1]
    raise LookupError(f"no process of app pid {app.process.pid} names its GCS address")


def _run_in_cluster(app: ServeApp, script: str, *args: str) -> str:
    """Run ``script`` in a child Python that joins ``app``'s cluster; its last line of output."""
    done = subprocess.run(
        [sys.executable, "-c", script, gcs_address(app), *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        # serve run's cluster requires the local auth token (~/.ray/auth_token).
        env={**os.environ, "RAY_DEDUP_LOGS": "0", "RAY_AUTH_MODE": "token"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{script.strip()} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip().splitlines()[-1]


def kill_replica(app: ServeApp, deployment: str) -> str:
    """``ray.kill`` one replica actor of ``deployment``; the killed actor's name."""
    return _run_in_cluster(app, _KILL_REPLICA, deployment)


def metrics_url(app: ServeApp) -> str:
    """Ray's Prometheus endpoint of ``app``'s one-node cluster (the node's metrics export port)."""
    return f"http://127.0.0.1:{_run_in_cluster(app, _METRICS_PORT)}/metrics"
