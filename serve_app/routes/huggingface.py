"""GET /huggingface/status, POST /huggingface/upload, GET /huggingface/uploads/{id}.

The upload itself runs in the background in the app's HubUploads actor
(``serve_app.upload_tasks``); these routes validate, start it and report on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException
from huggingface_hub.utils import HFValidationError, validate_repo_id

from serve_app.backends import Backends, BackendsDep
from serve_app.hub_upload import hub_endpoint, hub_reachable, hub_token
from serve_app.schemas import HubStatusResponse, HubUpload, HubUploadRequest
from serve_app.upload_tasks import UploadConflictError, UploadNotFoundError

router = APIRouter(prefix="/huggingface", tags=["huggingface"])


@router.get("/status", response_model=HubStatusResponse)
async def hub_status(backends: BackendsDep) -> HubStatusResponse:
    """Whether a token is set (never the token), where uploads go, whether they can run, and
    the latest upload."""
    settings = backends.config.get().huggingface
    endpoint = hub_endpoint()
    token_present = hub_token(settings.token_env) is not None
    reachable = await hub_reachable(endpoint, settings.probe_timeout_s)
    return HubStatusResponse(
        token_present=token_present,
        token_env=settings.token_env,
        repo_id=settings.repo_id,
        private=settings.private,
        endpoint=endpoint,
        hub_reachable=reachable,
        # huggingface_hub is imported by this module, so only the hub's answer is in question.
        available=reachable,
        # The probe sends no token; verifying it would take a second call to the hub.
        authenticated=token_present and reachable,
        upload=await backends.call_uploads("latest"),
    )


def _trained_folder(job: dict[str, Any]) -> bool:
    return bool(job.get("adapter_path")) and Path(job["adapter_path"]).is_dir()


async def _job_to_upload(backends: Backends, job_id: str | None) -> dict[str, Any]:
    """The named job (404 when unknown or without a trained folder), else the latest
    succeeded job that has one."""
    if job_id is not None:
        job = await backends.call_training("get_job", job_id)  # 404 when unknown
        if not _trained_folder(job):
            raise HTTPException(
                404,
                f"job_id: job {job_id} has no trained model folder "
                f"(state {job['progress']['state']}, adapter_path {job.get('adapter_path')})",
            )
        return job
    for job in await backends.call_training("list_jobs"):
        if job["progress"]["state"] == "succeeded" and _trained_folder(job):
            return job
    raise HTTPException(
        404,
        "no succeeded training job with a trained model: train one with POST /training/start, "
        "or name one with job_id",
    )


@router.post("/upload", response_model=HubUpload, status_code=202)
async def upload(body: HubUploadRequest, backends: BackendsDep) -> dict[str, Any]:
    """Start uploading a job's trained folder and a generated model card; returns at once.

    Follow it at GET /huggingface/uploads/{upload_id} or GET /huggingface/status.
    """
    settings = backends.config.get().huggingface
    repo_id = body.repo_id or settings.repo_id
    if repo_id is None:
        raise HTTPException(
            400,
            "repo_id: none given and huggingface.repo_id is not set; pass repo_id or set it "
            "with POST /config/update",
        )
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise HTTPException(400, f"repo_id: {error}") from None
    if hub_token(settings.token_env) is None:
        raise HTTPException(
            400,
            f"no hub token: set the environment variable {settings.token_env} "
            "(named by huggingface.token_env) where the app runs, then restart it",
        )
    job = await _job_to_upload(backends, body.job_id)
    private = settings.private if body.private is None else body.private
    try:
        return await backends.call_uploads(
            "start",
            job,
            repo_id,
            private,
            hub_endpoint(),
            settings.token_env,
            settings.request_timeout_s,
        )
    except UploadConflictError as error:
        raise HTTPException(409, str(error)) from None


@router.get("/uploads/{upload_id}", response_model=HubUpload)
async def get_upload(upload_id: str, backends: BackendsDep) -> dict[str, Any]:
    try:
        return await backends.call_uploads("get", upload_id)
    except UploadNotFoundError as error:
        raise HTTPException(404, f"{error}: GET /huggingface/status shows the latest") from None
