"""Per-deployment knobs that live in serve_config.yaml (``user_config``), validated here."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ModelServerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_batch_size: int = Field(
        16, ge=1, description="Most requests decoded together (rows of the continuous batch)."
    )
    torch_threads: int = Field(
        2, ge=1, description="torch intra-op threads; Ray gives a fractional-CPU actor only 1."
    )
