"""Each training job's progress as Prometheus metrics through Ray's metrics API (the Ray
dashboard's Metrics view, every node's metrics export port), set by its ProgressTracker actor
as workers report steps. A job's series go once its tracker does, at the job's end."""

from __future__ import annotations

from ray.util.metrics import Gauge

STEP = Gauge(
    "mcp_tune_training_step",
    description="The last optimizer step a training job reported.",
    tag_keys=("job_id",),
)
LOSS = Gauge(
    "mcp_tune_training_loss",
    description="A training job's loss at its last reported step.",
    tag_keys=("job_id",),
)
TOKENS_PER_S = Gauge(
    "mcp_tune_training_tokens_per_second",
    description="A training job's tokens per second, all workers, at its last reported step.",
    tag_keys=("job_id",),
)


def record_step(job_id: str, step: int, loss: float, tokens_per_second: float) -> None:
    tags = {"job_id": job_id}
    STEP.set(step, tags)
    LOSS.set(loss, tags)
    TOKENS_PER_S.set(tokens_per_second, tags)
