"""``python -m train_app.generate``: write the rows a job would generate, to read or edit them.

Writes ``train.jsonl`` (the configured tools: built-in and MCP servers', whose results come from
really running them, and the API corpus's training APIs), ``validation.jsonl`` (held-out rows per
category) and ``summary.json`` (rows per source and category, rows the verifier refused and why)
into ``--output``. A job takes the edited file back as ``dataset_path``.

    python -m train_app.generate --output runs/data --rows 480
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from configs.atomic_files import atomic_write_text
from configs.store import DEFAULT_CONFIG_FILE, load_config
from tools.registry import ToolRegistry
from train_app.dataset_mix import generate_dataset
from train_app.job_runner import write_jsonl


def main(argv: list[str] | None = None) -> int:
    config = load_config(DEFAULT_CONFIG_FILE)
    data = config.data
    parser = argparse.ArgumentParser(prog="python -m train_app.generate", description=__doc__)
    parser.add_argument("--output", type=Path, required=True, help="folder for the three files")
    parser.add_argument("--rows", type=int, default=data.num_generated_examples)
    parser.add_argument("--seed", type=int, default=data.seed)
    parser.add_argument("--per-category", type=int, default=data.eval_rows_per_category)
    args = parser.parse_args(argv)
    # File tools write into the output folder, never into the user's workspace.
    tools = config.tools.model_copy(update={"workspace_dir": str(args.output / "workspace")})
    data = data.model_copy(
        update={
            "num_generated_examples": args.rows,
            "seed": args.seed,
            "eval_rows_per_category": args.per_category,
        }
    )
    with ToolRegistry.from_config(tools) as registry:
        generated = generate_dataset(registry.specs(), registry, data)
    write_jsonl(generated.train, args.output / "train.jsonl")
    write_jsonl(generated.validation, args.output / "validation.jsonl")
    summary = json.dumps(generated.summary, ensure_ascii=False, indent=2)
    atomic_write_text(args.output / "summary.json", summary + "\n")
    print(summary)
    rows = f"{len(generated.train)} training and {len(generated.validation)} held-out rows"
    print(f"{rows} in {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
