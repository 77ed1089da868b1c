"""GET /config and POST /config/update."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Body

from configs.settings import AppConfig
from configs.store import ConfigError
from serve_app.api_keys import refuse_security_update
from serve_app.backends import BackendsDep
from serve_app.schemas import ConfigUpdateResponse

router = APIRouter(prefix="/config", tags=["config"])

REDACTED = "<redacted>"
# Which model is served changes through POST /model/load only: it confines, loads and checks
# the folder before every replica follows it.
SERVED_MODEL_FIELDS = {"model_path", "base_model_name", "load_on_start"}
# A value that only names an environment variable (${VAR}) holds no secret itself.
_ENV_REFERENCE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")


def public_config(config: AppConfig) -> dict[str, Any]:
    """The config as shown to clients: MCP server headers and env values that are literal
    (not ``${VAR}`` references) are redacted. Keys and the hub token are never in the config."""
    data = config.model_dump()
    for server in data["tools"]["mcp_servers"]:
        for field in ("headers", "env"):
            server[field] = {
                name: value if _ENV_REFERENCE.fullmatch(value) else REDACTED
                for name, value in server[field].items()
            }
    return data


def refuse_served_model_update(update: object) -> None:
    model = update.get("model") if isinstance(update, dict) else None
    if isinstance(model, dict) and (fields := sorted(SERVED_MODEL_FIELDS & set(model))):
        raise ConfigError(
            f"model.{', model.'.join(fields)}: cannot be changed through /config/update; "
            "POST /model/load checks and loads a model folder, then every replica serves it"
        )


@router.get("")
async def get_config(backends: BackendsDep) -> dict[str, Any]:
    return public_config(backends.config.get())


@router.post("/update", response_model=ConfigUpdateResponse)
async def update_config(
    update: Annotated[
        dict[str, Any],
        Body(examples=[{"model": {"max_length": 4096}, "training": {"batch_size": 8}}]),
    ],
    backends: BackendsDep,
) -> ConfigUpdateResponse:
    """Deep-merge a partial update, validate it, persist it atomically; invalid → 400, no change.

    Generation and tool settings apply to the next request; model settings to the next load.
    The security section (API keys, limits) is refused: it comes from the config file only; so
    are model_path, base_model_name and load_on_start: POST /model/load sets them.
    """
    refuse_security_update(update)
    refuse_served_model_update(update)
    config = backends.config.update(update)
    return ConfigUpdateResponse(status="updated", config=public_config(config))
