"""Builds the Serve application graph; ``serve run serve_config.yaml`` imports ``build_app``."""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field
from ray.serve import Application

from configs.store import DEFAULT_CONFIG_FILE, DEFAULT_OVERRIDES_FILE, ConfigStore
from serve_app.ingress import Ingress
from serve_app.model_server import ModelServer
from serve_app.tool_executor import ToolExecutor
from serve_app.training_manager import TrainingManager

logger = logging.getLogger("ray.serve")


class AppArgs(BaseModel):
    """The ``args`` of the application in serve_config.yaml."""

    model_config = ConfigDict(extra="forbid")

    config_file: str = Field(DEFAULT_CONFIG_FILE, description="Shipped defaults (YAML).")
    overrides_file: str = Field(
        DEFAULT_OVERRIDES_FILE, description="Where POST /config/update persists its changes."
    )


def build_app(args: dict) -> Application:
    app_args = AppArgs.model_validate(args)
    config = ConfigStore(app_args.config_file, app_args.overrides_file).get()
    logger.info("building mcp-tune with model %s", config.model.model_path)
    model_server = ModelServer.bind(app_args.config_file, app_args.overrides_file)
    return Ingress.bind(
        model_server,
        ToolExecutor.bind(app_args.config_file, app_args.overrides_file),
        TrainingManager.bind(model_server, app_args.config_file, app_args.overrides_file),
        app_args.config_file,
        app_args.overrides_file,
    )
