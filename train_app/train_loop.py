"""The recipe every Ray Train worker runs: data → model → step → progress → checkpoint.

Rank 0 pushes progress to the job's ProgressTracker actor every micro-batch without waiting (a
step of the defaults takes about a minute on a CPU), and calls ``ray.train.report`` (synchronous,
about a second each) only at checkpoints. A stop request is seen within one step: the loop saves
a checkpoint and returns.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
import ray.train
import ray.train.torch
import torch
import torch.distributed as dist
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model, set_peft_model_state_dict
from pydantic import BaseModel
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer, get_cosine_schedule_with_warmup

from configs.atomic_files import atomic_write_text
from configs.serving import ModelServerOptions
from configs.settings import TrainingConfig
from llm.loading import LoadedModel
from llm.prefix_cache import PrefixCache
from llm.transformers_engine import TransformersEngine
from train_app.batching import (
    IGNORE_INDEX,
    collate,
    learnable_examples,
    length_grouped_batches,
    tokenize_row,
)
from train_app.evaluation import answer_perplexity, evaluate_with_and_without_grammar

logger = logging.getLogger(__name__)

TRACKER_NAMESPACE = "mcp_tune"
STATE_FILE = "trainer_state.json"


class WorkerSpec(BaseModel):
    """Everything a worker needs, passed as ``train_loop_config``."""

    job_id: str
    base_model_path: str
    train_file: str
    validation_file: str
    training: TrainingConfig
    tracker_name: str | None = None
    # training.trainable_tokens, resolved to ids of the base model's tokenizer.
    trainable_token_ids: list[int] = []
    # training.init_adapter, resolved to its folder (checked to be over base_model_path).
    init_adapter_path: str | None = None


def read_jsonl(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file if line.strip()]


def build_model(spec: WorkerSpec, device: torch.device) -> tuple[torch.nn.Module, Any]:
    """The base model, with LoRA adapters when method is lora (new, or the init adapter made
    trainable again); fp32 on CPU, bf16 on GPU."""
    training = spec.training
    dtype = torch.bfloat16 if training.use_gpu else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(spec.base_model_path)
    model = AutoModelForCausalLM.from_pretrained(
        spec.base_model_path, dtype=dtype, use_safetensors=True, trust_remote_code=False
    )
    model.config.use_cache = False
    if training.gradient_checkpointing:
        model.gradient_checkpointing_enable()
        model.enable_input_require_grads()
    if spec.init_adapter_path:
        model = PeftModel.from_pretrained(model, spec.init_adapter_path, is_trainable=True)
    elif training.method == "lora":
        model = get_peft_model(
            model,
            LoraConfig(
                r=training.lora_r,
                lora_alpha=training.lora_alpha,
                lora_dropout=training.lora_dropout,
                target_modules=training.target_modules,
                layers_to_transform=training.layers_to_transform,
                trainable_token_indices=spec.trainable_token_ids or None,
                task_type="CAUSAL_LM",
            ),
        )
    if training.stop_backward_below_lora and training.layers_to_transform:
        stop_backward_below(model, min(training.layers_to_transform))
    return model.to(device), tokenizer


def stop_backward_below(model: torch.nn.Module, layer_index: int) -> None:
    """Detach the hidden states entering decoder layer ``layer_index``: the layers below run
    forward only, and the graph they built is freed as soon as they are done.

    Without it, trained token rows (an embedding lookup at the bottom) carry the backward pass
    through every layer even when LoRA sits on the last few.
    """
    layers = model.get_decoder().layers

    def detach_input(_module: torch.nn.Module, args: tuple) -> tuple:
        return (args[0].detach(), *args[1:])

    layers[layer_index].register_forward_pre_hook(detach_input)


def plan_batches(
    lengths: list[int], training: TrainingConfig, epoch: int, rank: int, world: int
) -> list[list[int]]:
    """This rank's micro-batches for one epoch; equal counts on every rank keep DDP in step."""
    batches = length_grouped_batches(lengths, training.batch_size, training.seed + epoch)
    per_rank = len(batches) // world
    usable = per_rank - per_rank % training.gradient_accumulation_steps
    return batches[rank::world][:usable]


def assistant_loss(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token loss over the labelled (assistant) tokens.

    Logits are computed only at positions some row of the batch has a label after: the
    vocabulary projection at every position of a long tool list is a large share of a small
    model's step, and those logits carry no loss.

    No attention mask is passed: batches are right-padded, so under causal attention no real
    token sees a pad, and attention runs its causal kernel instead of a masked one (measured on
    CPU: 1.15–1.25× for rows of ~1 k tokens, 1.5–2× for 2–3 k; pad positions carry no label).
    """
    targets = batch["labels"][:, 1:]
    positions = torch.nonzero((targets != IGNORE_INDEX).any(dim=0)).squeeze(1)
    logits = model(input_ids=batch["input_ids"], logits_to_keep=positions).logits
    return F.cross_entropy(
        logits.flatten(0, 1).float(), targets[:, positions].flatten(), ignore_index=IGNORE_INDEX
    )


def save_checkpoint(
    folder: Path, model: torch.nn.Module, tokenizer: Any, optimizer, scheduler, state: dict
) -> None:
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    torch.save(
        {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()},
        folder / "optimizer.pt",
    )
    atomic_write_text(folder / STATE_FILE, json.dumps(state, ensure_ascii=False, indent=2))


def restore_checkpoint(folder: Path, model: torch.nn.Module, optimizer, scheduler) -> dict:
    if isinstance(model, PeftModel):
        set_peft_model_state_dict(model, load_file(folder / "adapter_model.safetensors"))
    else:
        model.load_state_dict(load_file(folder / "model.safetensors"), strict=False)
    saved = torch.load(folder / "optimizer.pt", weights_only=True)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    return json.loads((folder / STATE_FILE).read_text())


# Rows of one tool list share its prompt prefix: computed once per evaluation, not per row.
EVAL_PREFIX_CACHE_BYTES = 256 * 2**20
EVAL_BATCH = 8  # rows decoded together while evaluating


def evaluate(model: torch.nn.Module, tokenizer: Any, rows: list[dict], device) -> dict[str, Any]:
    """Tool-call accuracy of the model being trained, its LoRA layers active, and the perplexity
    of its written answers to held-out general questions."""
    tokenizer.padding_side = "left"
    loaded = LoadedModel(
        # generate_batch treats a PeftModel as a replica's adapter host, where rows that name no
        # adapter run on the base; the inner model runs with the trained adapter applied.
        model=model.get_base_model() if isinstance(model, PeftModel) else model,
        tokenizer=tokenizer,
        model_path="(training)",
        model_folder="(training)",
        base_model_name=None,
        model_type="LoRA" if isinstance(model, PeftModel) else "full",
        device=str(device),
        dtype=str(next(model.parameters()).dtype),
        # A fresh cache each time: the weights changed since the last evaluation.
        prefix_cache=PrefixCache(EVAL_PREFIX_CACHE_BYTES),
    )
    model.eval()
    engine = TransformersEngine(
        loaded, ModelServerOptions(max_batch_size=EVAL_BATCH, torch_threads=torch.get_num_threads())
    )
    try:
        result = evaluate_with_and_without_grammar(engine, rows)
        result["answer_perplexity"] = answer_perplexity(model, tokenizer)
        return result
    finally:
        engine.close()
        model.train()
        tokenizer.padding_side = "right"


def _any_rank(flag: bool, world: int) -> bool:
    """True on every rank when any rank saw the flag, so all ranks stop at the same step."""
    if world == 1:
        return flag
    tensor = torch.tensor([int(flag)])
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def train_loop_per_worker(config: dict[str, Any]) -> None:
    worker_started = time.perf_counter()
    spec = WorkerSpec.model_validate(config)
    training = spec.training
    context = ray.train.get_context()
    rank, world = context.get_world_rank(), context.get_world_size()
    tracker = (
        ray.get_actor(spec.tracker_name, namespace=TRACKER_NAMESPACE) if spec.tracker_name else None
    )
    if not training.use_gpu:
        torch.set_num_threads(training.torch_threads or max(1, math.ceil(training.cpus_per_worker)))
    device = ray.train.torch.get_device()
    torch.manual_seed(training.seed)

    model, tokenizer = build_model(spec, device)
    examples = learnable_examples(
        [tokenize_row(tokenizer, row, training.max_length) for row in read_jsonl(spec.train_file)],
        training.max_length,
    )
    lengths = [len(e["input_ids"]) for e in examples]
    micro_per_epoch = len(plan_batches(lengths, training, 0, rank, world))
    steps_per_epoch = micro_per_epoch // training.gradient_accumulation_steps
    if steps_per_epoch == 0:
        raise ValueError(
            f"{len(examples)} training rows make no full optimizer step with batch_size "
            f"{training.batch_size} × accumulation {training.gradient_accumulation_steps} × "
            f"{world} workers: add data or lower them"
        )
    total_steps = steps_per_epoch * training.num_epochs
    if training.max_steps is not None:
        total_steps = min(total_steps, training.max_steps)
    logger.info(
        "job %s rank %d: model and %d rows ready in %.1f s; %d steps of %d micro-batches of %d",
        spec.job_id,
        rank,
        len(examples),
        time.perf_counter() - worker_started,
        total_steps,
        training.gradient_accumulation_steps,
        training.batch_size,
    )

    model = ray.train.torch.prepare_model(model)
    core = model.module if hasattr(model, "module") else model
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=training.learning_rate,
        weight_decay=training.weight_decay,
    )
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, int(training.warmup_ratio * total_steps), total_steps
    )
    state: dict[str, Any] = {"step": 0, "evaluation": {}, "tokens": 0, "train_seconds": 0.0}
    checkpoint = ray.train.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            state = restore_checkpoint(Path(folder), core, optimizer, scheduler)
        logger.info("job %s resumed at step %d", spec.job_id, state["step"])
        if tracker and rank == 0:
            tracker.record_resume.remote(state["step"])

    validation = read_jsonl(spec.validation_file)[: training.eval_max_examples]

    # A new LoRA job scores its base after training, the adapter switched off (it leaves the
    # base weights as they were), so its first step comes within seconds of the start. Full
    # fine-tuning changes the base weights and a continued adapter starts trained: both are
    # scored before the first step.
    score_first = not isinstance(core, PeftModel) or spec.init_adapter_path is not None
    first_label = "starting adapter" if spec.init_adapter_path else "base"

    def evaluate_as(name: str, label: str) -> None:
        """Score the model into state["evaluation"][name]."""
        if tracker:
            tracker.set_state.remote("running", f"evaluating the {label} model")
        switched_off = name == "before" and not score_first
        with core.disable_adapter() if switched_off else contextlib.nullcontext():
            state["evaluation"][name] = evaluate(core, tokenizer, validation, device)
        if tracker:
            tracker.set_evaluation.remote(name, state["evaluation"][name])

    if rank == 0 and validation and score_first and "before" not in state["evaluation"]:
        evaluate_as("before", first_label)
    if tracker and rank == 0:
        tracker.set_state.remote("running", "training")

    def checkpoint_and_report(final: bool) -> None:
        metrics = {
            "step": state["step"],
            "loss": state.get("loss"),
            "final": final,
            "tokens_per_second": state["tokens"] * world / max(state["train_seconds"], 1e-9),
        }
        if rank != 0:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory() as folder:
            save_checkpoint(Path(folder), core, tokenizer, optimizer, scheduler, state)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))

    model.train()
    tokenizer.padding_side = "right"
    step = state["step"]
    # Wall time of the loop, checkpoints and progress messages included: the honest throughput.
    loop_started, seconds_before = time.perf_counter(), state["train_seconds"]
    start_epoch, done_in_epoch = divmod(step, steps_per_epoch)
    finished = False  # every step done (num_epochs or max_steps), or the time budget spent
    for epoch in range(start_epoch, training.num_epochs):
        micro_batches = plan_batches(lengths, training, epoch, rank, world)
        skip = done_in_epoch * training.gradient_accumulation_steps if epoch == start_epoch else 0
        accumulated_loss, tokens, step_started = 0.0, 0, time.perf_counter()
        for index in range(skip, len(micro_batches)):
            batch = collate([examples[i] for i in micro_batches[index]], tokenizer.pad_token_id)
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = assistant_loss(model, batch) / training.gradient_accumulation_steps
            loss.backward()
            accumulated_loss += loss.item()
            tokens += int(batch["attention_mask"].sum())
            done_in_step = (index + 1) % training.gradient_accumulation_steps
            if done_in_step:
                if tracker and rank == 0:
                    tracker.record_micro_batch.remote(
                        done_in_step, training.gradient_accumulation_steps, total_steps
                    )
                continue
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            elapsed = time.perf_counter() - step_started
            state.update(step=step, epoch=epoch, loss=accumulated_loss)
            state["tokens"] += tokens
            state["train_seconds"] = seconds_before + time.perf_counter() - loop_started
            if tracker and rank == 0:
                tracker.record_step.remote(
                    step=step,
                    total_steps=total_steps,
                    epoch=epoch,
                    loss=accumulated_loss,
                    learning_rate=scheduler.get_last_lr()[0],
                    tokens_per_second=tokens * world / elapsed,
                    seconds_per_step=elapsed,
                )
            stop = _any_rank(bool(tracker and ray.get(tracker.should_stop.remote())), world)
            if stop:
                checkpoint_and_report(final=False)
                return
            out_of_time = (
                training.time_budget_s is not None
                and state["train_seconds"] >= training.time_budget_s
            )
            if step >= total_steps or _any_rank(out_of_time, world):
                if out_of_time and tracker and rank == 0:
                    tracker.set_state.remote("running", "time budget spent: finishing")
                finished = True
                break
            if step % training.checkpoint_every_steps == 0:
                checkpoint_and_report(final=False)
            accumulated_loss, tokens, step_started = 0.0, 0, time.perf_counter()
        if finished:
            break

    if rank == 0 and validation:
        if "before" not in state["evaluation"]:
            evaluate_as("before", "base")
        evaluate_as("after", "trained")
    checkpoint_and_report(final=True)
