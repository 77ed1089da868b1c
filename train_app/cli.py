"""``python -m train_app``: generate data, train and evaluate without Serve.

It takes the same TorchTrainer code path as ``POST /training/start``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import threading
import time
from typing import Any

import ray
import yaml
from tqdm import tqdm

from configs.atomic_files import atomic_write_text
from configs.settings import AppConfig, resolve_path
from configs.store import (
    DEFAULT_CONFIG_FILE,
    ConfigError,
    deep_merge,
    load_config,
    read_yaml_mapping,
    validate_config,
)
from train_app.evaluate import format_table
from train_app.job_runner import prepare_job, run_job
from train_app.jobs import JobStore, new_job_id
from train_app.progress import ProgressTracker
from train_app.train_loop import TRACKER_NAMESPACE

logger = logging.getLogger("train_app")


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """``training.num_epochs=5`` → ``{"training": {"num_epochs": 5}}`` (values parsed as YAML)."""
    update: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {pair!r}: expected section.field=value")
        node = update
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(raw)
    return update


def build_config(config_files: list[str], overrides: list[str]) -> AppConfig:
    """The default config, then each --config file merged over it in turn, then each --set."""
    merged = load_config(DEFAULT_CONFIG_FILE).model_dump()
    for config_file in config_files:
        merged = deep_merge(merged, read_yaml_mapping(resolve_path(config_file)))
    return validate_config(deep_merge(merged, parse_overrides(overrides)))


def watch(tracker: Any, done: threading.Event) -> None:
    """A progress bar over optimizer steps, fed by the job's ProgressTracker actor."""
    with tqdm(total=0, unit="step", dynamic_ncols=True) as bar:
        while not done.wait(0.5):
            snap = ray.get(tracker.snapshot.remote())
            if snap["total_steps"] and bar.total != snap["total_steps"]:
                bar.total = snap["total_steps"]
            bar.n = snap["step"]
            loss = f"{snap['loss']:.4f}" if snap["loss"] is not None else "-"
            bar.set_postfix_str(
                f"loss={loss} tok/s={snap['tokens_per_second'] or 0:.0f} {snap['message'][:40]}"
            )
            bar.refresh()


def train(args: argparse.Namespace) -> int:
    config = build_config(args.config, args.set)
    ray.init(num_cpus=args.num_cpus, include_dashboard=False, log_to_driver=args.verbose)
    jobs = JobStore(resolve_path(config.output.dir))
    job_id = new_job_id()
    prepared = prepare_job(
        job_id, jobs.job_dir(job_id), config, args.dataset or config.data.dataset_path
    )
    print(f"job {job_id}: {prepared.dataset_summary}")
    # @ray.remote adds .options; mypy does not apply class decorators.
    tracker = ProgressTracker.options(  # type: ignore[attr-defined]
        name=prepared.spec.tracker_name, namespace=TRACKER_NAMESPACE
    ).remote(job_id)
    done = threading.Event()
    watcher = threading.Thread(target=watch, args=(tracker, done), daemon=True)
    watcher.start()
    started = time.perf_counter()
    try:
        outcome = run_job(prepared)
    finally:
        done.set()
        watcher.join()
    print(f"job {job_id} {outcome['state']} in {time.perf_counter() - started:.0f}s")
    if outcome.get("error"):
        print(f"error: {outcome['error']}")
    for name, result in outcome["evaluation"].items():
        print(f"held-out tool calls, {name} training:\n{format_table(result)}")
    if outcome["adapter_path"]:
        print(f"trained model: {outcome['adapter_path']}")
        if outcome.get("gguf_path"):
            print(f"GGUF LoRA (llama.cpp, Ollama): {outcome['gguf_path']}")
        if args.export:
            target = resolve_path(args.export)
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(outcome["adapter_path"], target)
            print(f"exported to {target}")
    summary = {"job_id": job_id, **{k: v for k, v in outcome.items()}}
    atomic_write_text(
        jobs.job_dir(job_id) / "cli_result.json", json.dumps(summary, indent=2, ensure_ascii=False)
    )
    return 0 if outcome["state"] == "succeeded" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train_app", description=__doc__)
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="YAML",
        help="config merged over configs/default.yaml, e.g. a recipe (repeatable)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="override one setting, e.g. --set training.num_epochs=5 (repeatable)",
    )
    parser.add_argument("--dataset", help="JSONL/JSON/Parquet dataset; default: generate one")
    parser.add_argument("--export", help="copy the trained model/adapter folder here")
    parser.add_argument("--num-cpus", type=float, default=None, help="CPUs Ray may use")
    parser.add_argument("--verbose", action="store_true", help="show worker logs")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING)
    return train(args)
