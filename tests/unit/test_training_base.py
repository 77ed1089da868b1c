"""Which model a training job fine-tunes when the request names none."""

from __future__ import annotations

import json

from configs.settings import AppConfig
from train_app.job_runner import training_base_model


def config(**model) -> AppConfig:
    return AppConfig.model_validate({"model": model})


def test_the_served_full_model_is_the_base(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert training_base_model(config(model_path=str(tmp_path))) == str(tmp_path)


def test_a_served_adapter_trains_over_its_base(tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/b"}))
    assert training_base_model(config(model_path=str(adapter))) == "/b"
    named = config(model_path=str(adapter), base_model_name="/other")
    assert training_base_model(named) == "/other"


def test_training_base_model_path_wins(tmp_path):
    chosen = AppConfig.model_validate(
        {"model": {"model_path": str(tmp_path)}, "training": {"base_model_path": "/x"}}
    )
    assert training_base_model(chosen) == "/x"
