"""TrainingManager deployment: starts, watches and stops training jobs away from the request path.

One job runs at a time. ``TorchTrainer.fit()`` runs in a thread of this replica; the job's live
state is in its ProgressTracker actor; records are written to disk when a job starts and ends.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import UTC, datetime
from typing import Any

import ray
from pydantic import ValidationError
from ray import serve
from ray.serve.handle import DeploymentHandle

from configs.path_roots import PathNotAllowedError
from configs.settings import AppConfig, TrainingConfig, resolve_path
from configs.store import ConfigError, ConfigStore, deep_merge, describe_validation_error
from train_app.dataset_validation import DatasetError
from train_app.job_runner import PreparedJob, TrainingSetupError, prepare_job, run_job
from train_app.jobs import JobStore, new_job_id
from train_app.progress import JobProgress, ProgressTracker
from train_app.train_loop import TRACKER_NAMESPACE

logger = logging.getLogger("ray.serve")


class TrainingConflictError(RuntimeError):
    """A job is already running."""


class JobNotFoundError(LookupError):
    """No job has that id (or no job ran yet)."""


def apply_training_updates(config: AppConfig, updates: dict[str, Any]) -> AppConfig:
    """The config with ``updates`` merged into its training section; field paths in errors."""
    merged = deep_merge(config.training.model_dump(), updates)
    try:
        training = TrainingConfig.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(f"config_updates: {describe_validation_error(error)}") from error
    return config.model_copy(update={"training": training})


@serve.deployment
class TrainingManager:
    def __init__(self, model_server: DeploymentHandle, config_file: str, overrides_file: str):
        self._model_server = model_server
        self._store = ConfigStore(config_file, overrides_file)
        self._jobs = JobStore(resolve_path(self._store.get().output.dir))
        self._current: dict[str, Any] | None = None  # record of the running job
        self._tracker: Any = None
        self._task: asyncio.Task | None = None
        self._ending = False  # the running job has its final state; only its record is left
        for job_id in self._jobs.mark_interrupted():
            logger.warning("training job %s was interrupted by an app restart", job_id)

    async def start(self, config_updates: dict[str, Any], dataset_path: str | None) -> dict:
        if self._task is not None and not self._task.done():
            if not self._ending:
                raise TrainingConflictError(
                    f"training job {self._current['job_id']} is running: stop it or wait for it"
                )
            await self._task  # status already shows it ended: a new start must not see 409
        config = apply_training_updates(self._store.get(), config_updates)
        job_id = new_job_id()
        job_dir = self._jobs.job_dir(job_id)
        try:
            prepared = await asyncio.to_thread(
                prepare_job, job_id, job_dir, config, dataset_path or config.data.dataset_path
            )
        except (DatasetError, TrainingSetupError, PathNotAllowedError):
            shutil.rmtree(job_dir, ignore_errors=True)  # a refused start leaves no job behind
            raise
        self._tracker = ProgressTracker.options(
            name=prepared.spec.tracker_name, namespace=TRACKER_NAMESPACE
        ).remote(job_id)
        self._current = {
            "job_id": job_id,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "job_dir": str(job_dir),
            "dataset": prepared.dataset_summary,
            "training_config": config.training.model_dump(),
            "base_model_path": prepared.spec.base_model_path,
            "progress": JobProgress(job_id=job_id).snapshot(),
        }
        self._jobs.save(self._current)
        self._ending = False
        self._task = asyncio.create_task(self._run(prepared))
        logger.info("training job %s started (%s)", job_id, prepared.dataset_summary)
        return self._current

    async def _run(self, prepared: PreparedJob) -> None:
        record, tracker = self._current, self._tracker
        try:
            outcome = await asyncio.to_thread(run_job, prepared)
        except Exception as error:  # our bug or a Ray failure: the job must still end recorded
            logger.exception("training job %s crashed", prepared.job_id)
            outcome = {"state": "failed", "error": f"{type(error).__name__}: {error}"}
        message = {
            "succeeded": "训练完成 (training finished)",
            "stopped": "训练已停止 (stopped; last checkpoint kept)",
            "failed": f"训练失败: {outcome.get('error')}",
        }[outcome["state"]]
        if outcome["state"] == "succeeded" and prepared.config.training.auto_load_adapter:
            message += await self._serve_adapter(prepared.job_id, outcome["adapter_path"])
        # The paths first: a status read between two awaits below must not see the end state
        # without them.
        record.update(
            adapter_path=outcome.get("adapter_path"),
            gguf_path=outcome.get("gguf_path"),
            checkpoint_path=outcome.get("checkpoint_path"),
            evaluation=outcome.get("evaluation", {}),
        )
        self._ending = True
        await tracker.set_state.remote(outcome["state"], message, outcome.get("error"))
        record["progress"] = await tracker.snapshot.remote()
        self._jobs.save(record)
        logger.info("training job %s ended: %s", prepared.job_id, outcome["state"])
        ray.kill(tracker)

    async def _serve_adapter(self, job_id: str, adapter_path: str) -> str:
        """training.auto_load_adapter: swap the model replica to the new adapter before the job
        reports success, so 'succeeded' means it is served; returns a note for the message."""
        try:
            await self._model_server.load.remote(adapter_path, None)
        except Exception as error:  # the training result stands; the user can load it by hand
            logger.exception("job %s: loading its adapter %s failed", job_id, adapter_path)
            return f"; 适配器加载失败 (auto-load failed: {error}; retry with POST /model/load)"
        logger.info("serving the adapter of job %s", job_id)
        return "; 适配器已加载 (adapter now served)"

    async def stop(self) -> dict[str, Any]:
        if self._task is None or self._task.done():
            raise JobNotFoundError("no training job is running")
        await self._tracker.request_stop.remote()
        return {**self._current, "progress": await self._tracker.snapshot.remote()}

    async def status(self) -> dict[str, Any] | None:
        """The running job's live state, else the latest job's record; None before any job."""
        if self._task is not None and not self._task.done():
            return {**self._current, "progress": await self._tracker.snapshot.remote()}
        jobs = self._jobs.list()
        return jobs[0] if jobs else None

    def list_jobs(self) -> list[dict[str, Any]]:
        return self._jobs.list()

    def get_job(self, job_id: str) -> dict[str, Any]:
        record = self._jobs.get(job_id)
        if record is None:
            raise JobNotFoundError(f"no training job {job_id!r}: GET /training/jobs lists them")
        return record
