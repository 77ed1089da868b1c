"""Publish a training job's trained folder to the Hugging Face Hub, with a generated model card.

Plain functions over ``huggingface_hub`` (no Ray): the endpoint and token in use, a reachability
check that cannot hang, and the upload itself, ``create_repo(exist_ok=True)`` then one commit.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from huggingface_hub import CommitOperationAdd, HfApi, get_session

from configs.settings import resolve_path
from serve_app.model_card import render_model_card

PUBLIC_HUB = "https://huggingface.co"
CARD_FILE = "README.md"


class HubUploadError(RuntimeError):
    """An upload failed; the message names the step and the hub's answer, never the token."""


@dataclass
class UploadResult:
    repo_id: str
    repo_url: str
    commit_url: str
    commit_oid: str
    files: list[str]


def hub_endpoint() -> str:
    """``HF_ENDPOINT`` when set (a mirror, or a local test server), else the public hub."""
    return (os.environ.get("HF_ENDPOINT") or PUBLIC_HUB).rstrip("/")


def hub_token(token_env: str) -> str | None:
    """The token in the environment variable ``token_env``; None when unset or blank."""
    return os.environ.get(token_env, "").strip() or None


async def hub_reachable(endpoint: str, timeout_s: float) -> bool:
    """Whether the hub answers at all (any HTTP status) within ``timeout_s``, DNS included."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            await asyncio.wait_for(client.get(f"{endpoint}/api/whoami-v2"), timeout_s)
    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, OSError, ValueError):
        return False
    return True


def trained_files(folder: Path) -> list[str]:
    """The folder's files as repository paths, sorted; hidden files and its own README.md
    (peft's empty template, which the generated card replaces) are left out."""
    names = []
    for path in folder.rglob("*"):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            names.append(relative.as_posix())
    return sorted(name for name in names if name != CARD_FILE)


def _scrub(text: str, token: str) -> str:
    return text.replace(token, "***")


def publish_job(
    job: dict[str, Any],
    *,
    repo_id: str,
    private: bool,
    endpoint: str,
    token: str,
    timeout_s: float,
    report: Callable[[str], None] = lambda message: None,
) -> UploadResult:
    """Create ``repo_id`` if needed, then commit the job's trained folder (``adapter_path``)
    with a generated README.md in one commit; ``report`` hears each step.

    One ``create_commit`` rather than ``upload_folder``: the card replaces the folder's own
    README.md without writing into the job's folder or copying it. ``private`` applies only when
    the repository is created. Raises HubUploadError.
    """
    folder = Path(job["adapter_path"])
    files = trained_files(folder) if folder.is_dir() else []
    if not files:
        raise HubUploadError(f"the trained folder {folder} of job {job['job_id']} is gone or empty")
    # huggingface_hub's shared HTTP client has no timeout; a stalled hub must fail the upload.
    get_session().timeout = timeout_s
    api = HfApi(endpoint=endpoint, token=token)
    step = f"creating repository {repo_id}"
    try:
        report(step)
        repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
        full_id = repo_url.repo_id or repo_id
        base = job.get("base_model_path")
        card = render_model_card(job, full_id, files, base_is_local=bool(base) and _exists(base))
        operations = [
            CommitOperationAdd(path_in_repo=name, path_or_fileobj=str(folder / name))
            for name in files
        ]
        operations.append(CommitOperationAdd(path_in_repo=CARD_FILE, path_or_fileobj=card.encode()))
        size = sum(op.upload_info.size for op in operations)
        step = f"uploading {len(operations)} files ({size:,} bytes) to {full_id}"
        report(step)
        commit = api.create_commit(
            full_id,
            operations,
            commit_message=f"Upload {job['job_id']} trained with mcp-tune",
            commit_description="Trained folder and model card, uploaded by mcp-tune.",
        )
    except Exception as error:  # the hub's HTTP errors, timeouts, refused metadata, I/O errors
        detail = " ".join(_scrub(f"{type(error).__name__}: {error}", token).split())
        raise HubUploadError(f"{step} failed: {detail}") from None
    return UploadResult(
        repo_id=full_id,
        repo_url=str(repo_url),
        commit_url=commit.commit_url,
        commit_oid=commit.oid,
        files=[*files, CARD_FILE],
    )


def _exists(name: str) -> bool:
    return resolve_path(name).exists()
