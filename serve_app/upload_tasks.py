"""Hub uploads run in the background, owned by one named Ray actor per app.

Why an actor rather than a task in the ingress replica: the ingress may run several replicas
(``configs/serve_gpu.yaml`` runs two), and the next request (the upload's state, or a second
upload that must get 409) can land on any of them, so uploads need a single owner. A named actor
found with ``get_if_exists`` is that owner without a change to the app graph; it reserves no CPU
(an upload waits on the network) and runs ``huggingface_hub``'s blocking calls in a thread of its
own, so neither it nor the ingress stops answering while bytes go out.

The ingress replica that creates the actor owns it (Backends keeps its handle) and the actor
ends with it. Each upload's record is written to ``<output.dir>/uploads/<id>.json`` (atomically)
at every step, ``pending → uploading → succeeded | failed``, so records outlive the actor; one it
did not finish reads ``failed`` when the next actor starts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ray
from ray.actor import ActorHandle

from configs.atomic_files import atomic_write_text
from configs.settings import AppConfig, resolve_path
from serve_app.hub_upload import HubUploadError, hub_token, publish_job

logger = logging.getLogger(__name__)

ACTOR_NAME = "hub_uploads"
ACTOR_NAMESPACE = "mcp_tune"
FINAL_STATES = ("succeeded", "failed")


class UploadConflictError(RuntimeError):
    """An upload is already running."""


class UploadNotFoundError(LookupError):
    """No upload has that id."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class UploadStore:
    """Upload records on disk: one JSON file per upload under ``<output.dir>/uploads``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def save(self, record: dict[str, Any]) -> None:
        path = self.root / f"{record['upload_id']}.json"
        atomic_write_text(path, json.dumps(record, ensure_ascii=False, indent=2))

    def get(self, upload_id: str) -> dict[str, Any] | None:
        path = self.root / f"{upload_id}.json"
        if Path(upload_id).name != upload_id or not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def list(self) -> list[dict[str, Any]]:
        """All uploads, newest first."""
        records = [json.loads(p.read_text(encoding="utf-8")) for p in self.root.glob("*.json")]
        return sorted(records, key=lambda r: (r["created_at"], r["upload_id"]), reverse=True)

    def mark_interrupted(self) -> list[str]:
        interrupted = []
        for record in self.list():
            if record["state"] not in FINAL_STATES:
                error = "interrupted: the app stopped while this upload ran; start it again"
                record.update(state="failed", error=error, message=error, finished_at=_now())
                self.save(record)
                interrupted.append(record["upload_id"])
        return interrupted


@ray.remote(num_cpus=0)
class HubUploads:
    """Starts uploads one at a time and keeps their records (see the module docstring)."""

    def __init__(self, uploads_dir: str) -> None:
        if not logger.handlers:  # a plain actor's logging is not set up; its stderr reaches the log
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter("%(levelname)s %(asctime)s %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
        self._store = UploadStore(Path(uploads_dir))
        self._task: asyncio.Task | None = None
        self._running: str | None = None
        for upload_id in self._store.mark_interrupted():
            logger.warning("hub upload %s was interrupted by an app restart", upload_id)

    async def start(
        self,
        job: dict[str, Any],
        repo_id: str,
        private: bool,
        endpoint: str,
        token_env: str,
        timeout_s: float,
    ) -> dict[str, Any]:
        """Record a pending upload of ``job``'s trained folder and start it; returns the record.

        The token is read here, from ``token_env``, so it never travels between processes.
        """
        if self._task is not None and not self._task.done():
            raise UploadConflictError(
                f"upload {self._running} is running: follow it at GET /huggingface/uploads/"
                f"{self._running} and start the next one when it ends"
            )
        record = {
            "upload_id": f"upload-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}",
            "job_id": job["job_id"],
            "repo_id": repo_id,
            "private": private,
            "endpoint": endpoint,
            "state": "pending",
            "message": "waiting to start",
            "files": [],
            "created_at": _now(),
            "finished_at": None,
            "repo_url": None,
            "commit_url": None,
            "error": None,
        }
        self._store.save(record)
        self._running = record["upload_id"]
        self._task = asyncio.create_task(self._run(record, job, token_env, timeout_s))
        logger.info(
            "hub upload %s of job %s to %s started", record["upload_id"], job["job_id"], repo_id
        )
        return record

    async def _run(
        self, record: dict[str, Any], job: dict[str, Any], token_env: str, timeout_s: float
    ) -> None:
        loop = asyncio.get_running_loop()

        def step(message: str) -> None:  # called from the upload's thread
            changes = {"state": "uploading", "message": message}
            loop.call_soon_threadsafe(self._update, record, changes)

        token = hub_token(token_env)
        try:
            if token is None:
                raise HubUploadError(f"the environment variable {token_env} holds no hub token")
            result = await asyncio.to_thread(
                publish_job,
                job,
                repo_id=record["repo_id"],
                private=record["private"],
                endpoint=record["endpoint"],
                token=token,
                timeout_s=timeout_s,
                report=step,
            )
        except HubUploadError as error:
            outcome = {"state": "failed", "error": str(error)}
        except Exception as error:  # our bug: the upload must still end recorded
            logger.exception("hub upload %s crashed", record["upload_id"])
            outcome = {"state": "failed", "error": f"{type(error).__name__}: {error}"}
        else:
            outcome = {
                "state": "succeeded",
                "message": f"uploaded {len(result.files)} files to {result.repo_id}",
                "repo_id": result.repo_id,
                "repo_url": result.repo_url,
                "commit_url": result.commit_url,
                "files": result.files,
            }
        if outcome["state"] == "failed":
            outcome["message"] = f"upload failed: {outcome['error']}"
        # The thread's step() callbacks were queued before its result, so none lands after this.
        self._update(record, {**outcome, "finished_at": _now()})
        logger.info(
            "hub upload %s ended %s: %s",
            record["upload_id"],
            record["state"],
            record["commit_url"] or record["error"],
        )

    def _update(self, record: dict[str, Any], changes: dict[str, Any]) -> None:
        if record["state"] in FINAL_STATES:
            return
        record.update(changes)
        self._store.save(record)

    def get(self, upload_id: str) -> dict[str, Any]:
        record = self._store.get(upload_id)
        if record is None:
            raise UploadNotFoundError(f"no upload {upload_id!r}")
        return record

    def latest(self) -> dict[str, Any] | None:
        records = self._store.list()
        return records[0] if records else None


def hub_uploads_actor(config: AppConfig) -> ActorHandle:
    """The app's HubUploads actor, created by the first replica that asks for it."""
    uploads_dir = resolve_path(config.output.dir) / "uploads"
    return HubUploads.options(
        name=ACTOR_NAME, namespace=ACTOR_NAMESPACE, get_if_exists=True
    ).remote(str(uploads_dir))
