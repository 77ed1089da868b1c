"""Live state of one training job, held by a named Ray actor that workers update every step."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import ray

from train_app import training_metrics

JobState = Literal["pending", "running", "stopping", "stopped", "succeeded", "failed"]
FINAL_STATES = ("stopped", "succeeded", "failed")
MAX_HISTORY = 2000


@dataclass
class JobProgress:
    """Everything `GET /training/status` shows about a job; pure data, testable without Ray."""

    job_id: str
    state: JobState = "pending"
    message: str = "waiting for training workers"
    step: int = 0
    total_steps: int = 0
    # Micro-batches of the step under way (gradient accumulation): on a CPU one step of the
    # defaults takes about a minute, and these show it moving.
    micro_batch: int = 0
    micro_batches_per_step: int = 0
    epoch: int = 0
    loss: float | None = None
    learning_rate: float | None = None
    tokens_per_second: float | None = None
    eta_seconds: float | None = None
    evaluation: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    loss_history: list[dict[str, float]] = field(default_factory=list)
    started_at: float | None = None
    updated_at: float = field(default_factory=time.time)
    stop_requested: bool = False
    # Steps of the checkpoints the job resumed from after its workers failed (FailureConfig).
    resumed_from_steps: list[int] = field(default_factory=list)

    @property
    def progress(self) -> float:
        """Percent of optimizer steps done, the step under way counted by its micro-batches;
        100 once the job succeeded."""
        if self.state == "succeeded":
            return 100.0
        if not self.total_steps:
            return 0.0
        partial = self.micro_batch / self.micro_batches_per_step if self.micro_batch else 0.0
        return round(100.0 * (self.step + partial) / self.total_steps, 1)

    def record_micro_batch(self, done: int, per_step: int, total_steps: int) -> None:
        """``done`` of the ``per_step`` micro-batches of the next step are through."""
        self.micro_batch, self.micro_batches_per_step = done, per_step
        self.total_steps = total_steps
        if self.state == "pending":
            self.state = "running"
        if self.state == "running":
            self.message = (
                f"训练进度: {self.progress:.0f}% (step {self.step + 1}/{total_steps}: "
                f"micro-batch {done}/{per_step})"
            )
        self.updated_at = time.time()

    def record_step(
        self,
        step: int,
        total_steps: int,
        epoch: int,
        loss: float,
        learning_rate: float,
        tokens_per_second: float,
        seconds_per_step: float,
    ) -> None:
        self.step, self.total_steps, self.epoch = step, total_steps, epoch
        self.micro_batch = 0
        self.loss, self.learning_rate = loss, learning_rate
        self.tokens_per_second = tokens_per_second
        self.eta_seconds = round(max(total_steps - step, 0) * seconds_per_step, 1)
        if self.state == "pending":
            self.state = "running"
        if self.state == "running":
            self.message = (
                f"训练进度: {self.progress:.0f}% (step {step}/{total_steps}, loss {loss:.4f})"
            )
        self.loss_history.append({"step": step, "loss": round(loss, 5)})
        del self.loss_history[:-MAX_HISTORY]
        self.updated_at = time.time()

    def set_state(self, state: JobState, message: str, error: str | None = None) -> None:
        if self.state in FINAL_STATES:
            return  # a finished job's outcome is not rewritten by late messages
        self.state, self.message, self.error = state, message, error
        if state == "running" and self.started_at is None:
            self.started_at = time.time()
        self.updated_at = time.time()

    def request_stop(self) -> bool:
        if self.state in FINAL_STATES:
            return False
        self.stop_requested = True
        self.set_state("stopping", "stop requested: saving a checkpoint at the next step")
        return True

    def snapshot(self) -> dict[str, Any]:
        data = asdict(self)
        data["progress"] = self.progress
        data["is_training"] = self.state in ("pending", "running", "stopping")
        return data


@ray.remote(num_cpus=0)
class ProgressTracker:
    """One per job, named ``progress-<job_id>``; workers call it fire-and-forget."""

    def __init__(self, job_id: str) -> None:
        self._progress = JobProgress(job_id=job_id)

    def record_step(self, **step: Any) -> None:
        self._progress.record_step(**step)
        training_metrics.record_step(
            self._progress.job_id, step["step"], step["loss"], step["tokens_per_second"]
        )

    def record_micro_batch(self, done: int, per_step: int, total_steps: int) -> None:
        self._progress.record_micro_batch(done, per_step, total_steps)

    def set_state(self, state: JobState, message: str, error: str | None = None) -> None:
        self._progress.set_state(state, message, error)

    def set_evaluation(self, name: str, result: dict[str, Any]) -> None:
        self._progress.evaluation[name] = result

    def record_resume(self, step: int) -> None:
        self._progress.resumed_from_steps.append(step)

    def request_stop(self) -> bool:
        return self._progress.request_stop()

    def should_stop(self) -> bool:
        return self._progress.stop_requested

    def snapshot(self) -> dict[str, Any]:
        return self._progress.snapshot()


def tracker_name(job_id: str) -> str:
    return f"progress-{job_id}"
