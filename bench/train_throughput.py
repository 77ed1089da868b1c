"""LoRA training tokens/s of the real default model: TorchTrainer (1 worker) against a plain
in-process loop on the same batches, and LoRA on the last layers only against all layers — each
measured in this run.

    python bench/train_throughput.py --rows 24 --steps 4

Every loop trains Qwen2.5-Coder-0.5B-Instruct (fetched by name) on the same generated rows with
the same length-grouped batches; tokens/s counts real (non-padding) tokens. Ray is started
before any loop, so all pay its background processes. The TorchTrainer figure is the loop's
wall time with its progress messages and checkpoint reports included; the fixed start-up cost
of the worker group is printed apart.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import ray
import torch
from ray.train import RunConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from configs.settings import DataConfig, TrainingConfig
from configs.store import load_config
from llm.model_sources import local_model_path
from llm.pretrained import served_base_name
from tools.registry import ToolRegistry
from train_app.batching import collate, length_grouped_batches, tokenize_row
from train_app.tool_rows import generate_training_rows
from train_app.train_loop import WorkerSpec, assistant_loss, build_model, train_loop_per_worker

LAST_LAYERS = list(range(16, 24))


def plain_loop(spec: WorkerSpec, rows: list[dict], steps: int) -> float:
    """Tokens/s of a bare PyTorch loop over the first ``steps`` batches (after one warm-up)."""
    torch.manual_seed(spec.training.seed)
    model, tokenizer = build_model(spec, torch.device("cpu"))
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    examples = [tokenize_row(tokenizer, row, spec.training.max_length) for row in rows]
    lengths = [len(e["input_ids"]) for e in examples]
    batches = length_grouped_batches(lengths, spec.training.batch_size, seed=0)
    tokens, started = 0, None
    for index, batch_indices in enumerate(batches[: steps + 1]):
        if index == 1:
            tokens, started = 0, time.perf_counter()
        batch = collate([examples[i] for i in batch_indices], tokenizer.pad_token_id)
        assistant_loss(model, batch).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += int(batch["attention_mask"].sum())
    return tokens / (time.perf_counter() - started)


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
    parser.add_argument("--rows", type=int, default=24)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--model", default=None, help="default: the served model's base")
    args = parser.parse_args()
    torch.set_num_threads(2)
    config = load_config()
    served = args.model or served_base_name(config.model.model_path)
    model = local_model_path(served, config.model.cache_dir)
    with ToolRegistry.from_config(config.tools) as registry:
        data = DataConfig(num_generated_examples=args.rows, seed=0)
        rows = generate_training_rows(registry.specs(), registry, data)

    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.jsonl"
        train_file.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))

        def spec(layers: list[int] | None) -> WorkerSpec:
            training = TrainingConfig(
                batch_size=args.batch_size,
                max_steps=args.steps + 1,
                eval_max_examples=0,
                checkpoint_every_steps=10**6,
                cpus_per_worker=2,
                layers_to_transform=layers,
            )
            return WorkerSpec(
                job_id="bench",
                base_model_path=model,
                train_file=str(train_file),
                validation_file=str(train_file),
                training=training,
            )

        # Ray runs first: its own processes take ~10 % of 2 cores, and every loop should pay it.
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        every_layer = plain_loop(spec(None), rows, args.steps)
        last_layers = plain_loop(spec(LAST_LAYERS), rows, args.steps)
        trainer_tps, fit_seconds = torch_trainer(spec(LAST_LAYERS), Path(tmp) / "ray")
        ray.shutdown()

    print(f"plain loop, LoRA on all 24 layers:  {every_layer:7.1f} tokens/s")
    print(f"plain loop, LoRA on the last 8:     {last_layers:7.1f} tokens/s")
    print(f"TorchTrainer, LoRA on the last 8:   {trainer_tps:7.1f} tokens/s", end=" ")
    print(f"(fit() {fit_seconds:.0f}s)")
    print(f"last 8 layers / all layers:         {last_layers / every_layer:.2f}x")
    print(f"TorchTrainer / plain loop:          {trainer_tps / last_layers:.2f}x")


if __name__ == "__main__":
    main()
