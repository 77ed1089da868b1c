"""training.init_adapter: a job goes on training an existing LoRA adapter of its base.

Bad input tried: a folder that is no adapter, an adapter over another base, a folder outside
the allowed roots, and init_adapter with full fine-tuning (all refused before any job runs,
naming the setting).
"""

from __future__ import annotations

import shutil

import pytest
import torch
from peft import LoraConfig, get_peft_model
from pydantic import ValidationError
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from configs.path_roots import PathNotAllowedError
from configs.settings import AppConfig, TrainingConfig
from tests.lora_adapters import make_lora_adapter
from train_app.job_runner import TrainingSetupError, starting_adapter, trainable_token_ids
from train_app.train_loop import WorkerSpec, build_model


def job_config(tmp_path, adapter) -> AppConfig:
    return AppConfig.model_validate(
        {
            "model": {"allowed_roots": [str(tmp_path)]},
            "training": {"init_adapter": str(adapter)},
        }
    )


@pytest.fixture(scope="module")
def adapter(tiny_model_dir, tmp_path_factory):
    return make_lora_adapter(tiny_model_dir, tmp_path_factory.mktemp("init") / "adapter", seed=3)


def test_an_adapter_over_the_jobs_base_is_taken(tiny_model_dir, adapter):
    config = job_config(adapter.parent, adapter)
    assert starting_adapter(config, tiny_model_dir.resolve()) == adapter.resolve()
    assert starting_adapter(AppConfig(), tiny_model_dir.resolve()) is None


def test_a_folder_that_is_no_adapter_is_refused(tiny_model_dir, tmp_path):
    with pytest.raises(TrainingSetupError, match="training.init_adapter .* is not a LoRA adapter"):
        starting_adapter(job_config(tmp_path, tmp_path), tiny_model_dir.resolve())


def test_an_adapter_over_another_base_is_refused(tiny_model_dir, adapter, tmp_path):
    other_base = tmp_path / "other-base"
    shutil.copytree(tiny_model_dir, other_base)
    with pytest.raises(TrainingSetupError, match="set training.base_model_path to its base"):
        starting_adapter(job_config(adapter.parent, adapter), other_base.resolve())


def test_an_adapter_outside_the_allowed_roots_is_refused(tiny_model_dir, adapter, tmp_path):
    with pytest.raises(PathNotAllowedError, match="model.allowed_roots"):
        starting_adapter(job_config(tmp_path, adapter), tiny_model_dir.resolve())


def test_init_adapter_needs_lora():
    with pytest.raises(ValidationError, match="init_adapter goes on training a LoRA adapter"):
        TrainingConfig(method="full", init_adapter="models/x")


def test_the_worker_starts_from_the_adapters_weights_and_trains_them(tiny_model_dir, tmp_path):
    """LoRA weights and the tag rows of the starting adapter, all trainable again."""
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tags = trainable_token_ids(tiny_model_dir, TrainingConfig())
    config = LoraConfig(
        r=8, target_modules=["q_proj"], trainable_token_indices=tags, init_lora_weights=False
    )
    get_peft_model(base, config).save_pretrained(tmp_path / "adapter")
    # lora_r and target_modules differ from the adapter's: the adapter's own are kept.
    training = TrainingConfig(init_adapter="unused", lora_r=4, target_modules=["k_proj"])
    spec = WorkerSpec(
        job_id="t",
        base_model_path=str(tiny_model_dir),
        train_file="",
        validation_file="",
        training=training,
        init_adapter_path=str(tmp_path / "adapter"),
    )
    model, _ = build_model(spec, torch.device("cpu"))
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert any("trainable_tokens" in name for name in trainable)
    assert not any("k_proj" in name for name in trainable)
    saved = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    lora = {k: v for k, v in saved.items() if "lora_" in k}
    assert lora
    for key, value in lora.items():
        assert torch.equal(trainable[key.replace(".weight", ".default.weight")], value), key
