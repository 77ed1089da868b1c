"""Training rows per hour of the corpus recipe against the recipe before it, measured in one run
on the real default model, and TorchTrainer against a plain loop.

    python bench/train_throughput.py --rows 12

Each recipe trains Qwen2.5-Coder-0.5B-Instruct with its own ``training`` settings on rows
generated as its job would make them:

- before: ``configs/recipes/qwen_tools_lora.yaml`` (LoRA on the last 16 layers, the backward
  pass through all 24 for the trained token rows) on the hand-written tool library's rows, which
  the shipped adapter was trained on (``data.corpus_share=0``);
- corpus: ``configs/recipes/qwen_tools_corpus.yaml`` (LoRA on the last 8 layers, the backward
  pass stopped below them) on the API corpus's rows.

A loop times ``--rows`` rows after one warm-up micro-batch; rows/hour, turns/hour (user
requests answered, each what one evaluation row scores), tokens/s (real tokens) and learnt
(assistant) tokens/hour are printed for each, then the ratios. ``--trainer`` also
times the corpus recipe through TorchTrainer (one worker), whose worker start is printed apart.
Ray is started before any loop, so all pay its background processes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import ray
import torch
from ray.train import RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from configs.settings import AppConfig
from llm.model_sources import local_model_path
from llm.pretrained import served_base_name
from tools.registry import ToolRegistry
from train_app.batching import IGNORE_INDEX, collate, length_grouped_batches, tokenize_row
from train_app.cli import build_config
from train_app.dataset_mix import generate_dataset
from train_app.job_runner import trainable_token_ids
from train_app.train_loop import WorkerSpec, assistant_loss, build_model, train_loop_per_worker

RECIPES = {
    "before": ("configs/recipes/qwen_tools_lora.yaml", ["data.corpus_share=0"]),
    "corpus": ("configs/recipes/qwen_tools_corpus.yaml", []),
}


@dataclass
class Rate:
    rows_per_hour: float
    turns_per_hour: float  # user requests answered: what an evaluation row scores, one each
    tokens_per_second: float
    learnt_per_hour: float


def recipe_rows(config: AppConfig, count: int) -> list[dict]:
    with ToolRegistry.from_config(config.tools) as registry:
        data = config.data.model_copy(update={"num_generated_examples": count})
        return generate_dataset(registry.specs(), registry, data).train


def worker_spec(config: AppConfig, model: str, train_file: Path) -> WorkerSpec:
    training = config.training.model_copy(
        update={"eval_max_examples": 0, "checkpoint_every_steps": 10**6, "time_budget_s": None}
    )
    return WorkerSpec(
        job_id="bench",
        base_model_path=model,
        train_file=str(train_file),
        validation_file=str(train_file),
        training=training,
        trainable_token_ids=trainable_token_ids(Path(model), training),
    )


def plain_loop(spec: WorkerSpec, rows: list[dict]) -> Rate:
    """The recipe's micro-batches over ``rows`` in a bare PyTorch loop, after one warm-up."""
    torch.manual_seed(spec.training.seed)
    model, tokenizer = build_model(spec, torch.device("cpu"))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    examples = [tokenize_row(tokenizer, row, spec.training.max_length) for row in rows]
    lengths = [len(e["input_ids"]) for e in examples]
    batches = length_grouped_batches(lengths, spec.training.batch_size, seed=0)
    rows_done = turns = tokens = learnt = 0
    started = 0.0
    for index, batch_indices in enumerate(batches):  # the first one warms up, untimed
        if index == 1:
            started = time.perf_counter()
        batch = collate([examples[i] for i in batch_indices], tokenizer.pad_token_id)
        assistant_loss(model, batch).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if index:
            rows_done += len(batch_indices)
            turns += sum(_user_turns(rows[i]) for i in batch_indices)
            tokens += int(batch["attention_mask"].sum())
            learnt += int((batch["labels"] != IGNORE_INDEX).sum())
    seconds = time.perf_counter() - started
    per_hour = 3600 / seconds
    return Rate(rows_done * per_hour, turns * per_hour, tokens / seconds, learnt * per_hour)


def _user_turns(row: dict) -> int:
    return sum(message["role"] == "user" for message in row["messages"])


def torch_trainer(spec: WorkerSpec, storage: Path) -> tuple[float, float]:
    """(tokens/s inside the loop, wall seconds of fit()) through TorchTrainer with one worker."""
    trainer = TorchTrainer(
        train_loop_per_worker,
        train_loop_config=spec.model_dump(),
        scaling_config=ScalingConfig(num_workers=1, resources_per_worker={"CPU": 2}),
        run_config=RunConfig(name="bench", storage_path=str(storage)),
    )
    started = time.perf_counter()
    result = trainer.fit()
    return result.metrics["tokens_per_second"], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=12, help="rows timed per recipe")
    parser.add_argument("--model", default=None, help="default: the served model's base")
    parser.add_argument("--trainer", action="store_true", help="also time TorchTrainer")
    args = parser.parse_args()
    torch.set_num_threads(2)
    configs = {name: build_config([file], sets) for name, (file, sets) in RECIPES.items()}
    first = configs["before"]
    model = local_model_path(
        args.model or served_base_name(first.model.model_path), first.model.cache_dir
    )
    rates: dict[str, Rate] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # Ray runs first: its own processes take ~10 % of 2 cores, and every loop should pay it.
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        specs = {}
        for name, config in configs.items():
            rows = recipe_rows(config, args.rows + config.training.batch_size)
            train_file = Path(tmp) / f"{name}.jsonl"
            train_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            specs[name] = worker_spec(config, model, train_file)
            rates[name] = plain_loop(specs[name], rows)
        if args.trainer:
            spec = specs["corpus"]
            spec.training.max_steps = 2
            trainer_tps, fit_seconds = torch_trainer(spec, Path(tmp) / "ray")
        ray.shutdown()

    for name, rate in rates.items():
        print(
            f"{name:7s} {RECIPES[name][0]}: {rate.rows_per_hour:6.0f} rows/hour, "
            f"{rate.turns_per_hour:6.0f} turns/hour, "
            f"{rate.tokens_per_second:6.1f} tokens/s, "
            f"{rate.learnt_per_hour:7.0f} learnt tokens/hour"
        )
    before, corpus = rates["before"], rates["corpus"]
    print(
        f"corpus / before: rows/hour {corpus.rows_per_hour / before.rows_per_hour:.2f}x, "
        f"turns/hour {corpus.turns_per_hour / before.turns_per_hour:.2f}x, "
        f"tokens/s {corpus.tokens_per_second / before.tokens_per_second:.2f}x, "
        f"learnt tokens/hour {corpus.learnt_per_hour / before.learnt_per_hour:.2f}x"
    )
    if args.trainer:
        print(f"TorchTrainer, corpus recipe: {trainer_tps:.1f} tokens/s (fit() {fit_seconds:.0f}s)")
        print(f"TorchTrainer / plain loop:   {trainer_tps / corpus.tokens_per_second:.2f}x")


if __name__ == "__main__":
    main()
