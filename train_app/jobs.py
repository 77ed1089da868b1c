"""Job records on disk: one folder per job under ``<output.dir>/jobs``, kept across app restarts."""

from __future__ import annotations

import builtins
import json
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from configs.atomic_files import atomic_write_text
from train_app.progress import FINAL_STATES


def new_job_id() -> str:
    return f"job-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


class JobStore:
    def __init__(self, output_dir: Path) -> None:
        self.root = output_dir / "jobs"

    def job_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def save(self, record: dict[str, Any]) -> None:
        path = self.job_dir(record["job_id"]) / "job.json"
        atomic_write_text(path, json.dumps(record, ensure_ascii=False, indent=2))

    def get(self, job_id: str) -> dict[str, Any] | None:
        path = self.job_dir(job_id) / "job.json"
        if not path.is_file() or Path(job_id).name != job_id:
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    def list(self) -> list[dict[str, Any]]:
        """All jobs, newest first."""
        records = [json.loads(p.read_text(encoding="utf-8")) for p in self.root.glob("*/job.json")]
        return sorted(records, key=lambda r: r["created_at"], reverse=True)

    def mark_interrupted(self) -> builtins.list[str]:
        """Jobs a previous app left unfinished did not survive it: record them as failed."""
        interrupted = []
        for record in self.list():
            if record["progress"]["state"] not in FINAL_STATES:
                record["progress"]["state"] = "failed"
                record["progress"]["is_training"] = False
                record["progress"]["error"] = "interrupted: the app stopped while this job ran"
                record["progress"]["message"] = record["progress"]["error"]
                self.save(record)
                interrupted.append(record["job_id"])
        return interrupted
