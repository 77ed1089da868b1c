"""POST /training/start, GET /training/status, POST /training/stop, GET /training/jobs[/{id}]."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from serve_app.backends import BackendsDep
from serve_app.schemas import TrainingJob, TrainingStartRequest, TrainingStatusResponse

router = APIRouter(prefix="/training", tags=["training"])


def status_from_record(record: dict[str, Any] | None) -> TrainingStatusResponse:
    if record is None:
        return TrainingStatusResponse(
            is_training=False, progress=0, message="no training job has run yet"
        )
    progress = record["progress"]
    return TrainingStatusResponse(
        **{k: v for k, v in progress.items() if k in TrainingStatusResponse.model_fields},
        adapter_path=record.get("adapter_path"),
        gguf_path=record.get("gguf_path"),
        checkpoint_path=record.get("checkpoint_path"),
    )


@router.post("/start", response_model=TrainingStatusResponse)
async def start_training(
    body: TrainingStartRequest, backends: BackendsDep
) -> TrainingStatusResponse:
    """Validate updates and dataset, then start a job; returns at once. 409 while one runs."""
    record = await backends.call_training("start", body.config_updates, body.dataset_path)
    return status_from_record(record)


@router.get("/status", response_model=TrainingStatusResponse)
async def training_status(backends: BackendsDep) -> TrainingStatusResponse:
    return status_from_record(await backends.call_training("status"))


@router.post("/stop", response_model=TrainingStatusResponse)
async def stop_training(backends: BackendsDep) -> TrainingStatusResponse:
    """Ask the running job to stop; it saves a checkpoint within a step and ends ``stopped``."""
    return status_from_record(await backends.call_training("stop"))


@router.get("/jobs", response_model=list[TrainingJob])
async def list_jobs(backends: BackendsDep) -> list[dict[str, Any]]:
    return await backends.call_training("list_jobs")


@router.get("/jobs/{job_id}", response_model=TrainingJob)
async def get_job(job_id: str, backends: BackendsDep) -> dict[str, Any]:
    return await backends.call_training("get_job", job_id)
