"""The deployment files stay in step with serve_config.yaml: the container's Serve config, the
KubeRay RayService and the Dockerfile (read as text; nothing is built or started)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def load(path: str) -> dict:
    return yaml.safe_load((ROOT / path).read_text())


def deployments(serve_config: dict) -> dict[str, dict]:
    (app,) = serve_config["applications"]
    return {deployment["name"]: deployment for deployment in app["deployments"]}


def rayservice() -> dict:
    docs = list(yaml.safe_load_all((ROOT / "configs/kuberay_rayservice.yaml").read_text()))
    (service,) = [doc for doc in docs if doc and doc.get("kind") == "RayService"]
    return service


def dockerfile_instructions() -> list[str]:
    """The Dockerfile's instructions, one a line: comments dropped, continuation lines joined."""
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    text = text.replace("\\\n", " ")
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def test_container_serve_config_differs_only_in_host():
    shipped = load("serve_config.yaml")
    container = load("configs/serve_container.yaml")
    assert shipped["http_options"]["host"] == "127.0.0.1"
    assert container["http_options"]["host"] == "0.0.0.0"
    container["http_options"]["host"] = shipped["http_options"]["host"]
    assert container == shipped


def test_rayservice_embeds_the_app_with_a_gpu_per_model_replica():
    service = rayservice()
    assert service["apiVersion"] == "ray.io/v1"
    serve = yaml.safe_load(service["spec"]["serveConfigV2"])
    (app,) = serve["applications"]
    (shipped_app,) = load("serve_config.yaml")["applications"]
    assert app["import_path"] == shipped_app["import_path"]
    assert app["args"] == shipped_app["args"]
    assert deployments(serve).keys() == deployments(load("serve_config.yaml")).keys()
    model_server = deployments(serve)["ModelServer"]
    assert model_server["ray_actor_options"]["num_gpus"] == 1
    assert serve["http_options"]["host"] == "0.0.0.0"


def test_rayservice_cluster_has_gpu_workers_keys_and_shared_runs():
    cluster = rayservice()["spec"]["rayClusterConfig"]
    head = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]
    assert "nvidia.com/gpu" not in head["resources"].get("limits", {})
    (workers,) = cluster["workerGroupSpecs"]
    assert workers["minReplicas"] >= 2
    assert workers["maxReplicas"] >= workers["minReplicas"]
    for pod in (cluster["headGroupSpec"]["template"]["spec"], workers["template"]["spec"]):
        (container,) = pod["containers"]
        env = {item["name"]: item for item in container["env"]}
        assert "secretKeyRef" in env["MCP_TUNE_API_KEYS"]["valueFrom"]
        mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
        claims = {
            volume["name"]: volume["persistentVolumeClaim"]["claimName"]
            for volume in pod["volumes"]
            if "persistentVolumeClaim" in volume
        }
        assert mounts["/app/runs"] in claims
    worker = workers["template"]["spec"]["containers"][0]
    assert worker["resources"]["limits"]["nvidia.com/gpu"] == 1


def test_dockerfile_fetches_the_model_and_serves_the_container_config():
    instructions = dockerfile_instructions()
    runs = [line for line in instructions if line.startswith("RUN ")]
    torch = next(i for i, line in enumerate(runs) if "torch==2.13.0" in line)
    project = next(i for i, line in enumerate(runs) if re.search(r"pip install (-e )?\.", line))
    assert torch < project
    fetch = next(i for i, line in enumerate(runs) if "python -m llm.pretrained" in line)
    assert fetch > project
    (healthcheck,) = [line for line in instructions if line.startswith("HEALTHCHECK ")]
    assert "http://127.0.0.1:8000/health" in healthcheck
    (cmd,) = [line for line in instructions if line.startswith("CMD ")]
    assert "serve" in cmd and "run" in cmd and "configs/serve_container.yaml" in cmd
    assert any(line.startswith("EXPOSE ") and "8000" in line for line in instructions)
