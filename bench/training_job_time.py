"""How long a training job takes through the app, on the real default model, in one run:

1. the seed guide's example start (`{"config_updates": {"num_epochs": 5, "learning_rate": 1e-5}}`):
   seconds until its status shows progress (a micro-batch done), and until its first optimizer
   step, then stopped;
2. a job with the shipped defaults: seconds from start to `succeeded`, with its held-out accuracy
   before and after.

    python bench/training_job_time.py                 # both
    python bench/training_job_time.py --seed-example  # the first only (a few minutes)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.serve_process import ServeApp  # noqa: E402
from tests.training_status import wait_for_status  # noqa: E402

SEED_EXAMPLE = {"config_updates": {"num_epochs": 5, "learning_rate": 1e-5}}


def timed_job(client: httpx.Client, body: dict, until) -> tuple[float, dict]:
    started = time.perf_counter()
    reply = client.post("/training/start", json=body)
    reply.raise_for_status()
    status = wait_for_status(client, until, timeout_s=3600)
    return time.perf_counter() - started, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed-example", action="store_true", help="time the first step only")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as workdir,
        ServeApp(Path(workdir), {}).start(timeout_s=900) as app,
        httpx.Client(base_url=app.url, timeout=60) as client,
    ):
        seconds, first_progress = timed_job(client, SEED_EXAMPLE, lambda s: s["progress"] > 0)
        waited = time.perf_counter()
        first_step = wait_for_status(client, lambda s: s["step"] >= 1, timeout_s=3600)
        print(
            f"seed example: progress shown after {seconds:.0f} s ({first_progress['message']}), "
            f"its first step after {seconds + time.perf_counter() - waited:.0f} s "
            f"({first_step['message']})"
        )
        client.post("/training/stop").raise_for_status()
        wait_for_status(client, lambda s: not s["is_training"], timeout_s=600)
        if args.seed_example:
            return
        seconds, status = timed_job(
            client, {}, lambda s: s["state"] in ("succeeded", "failed", "stopped")
        )
    print(f"default job: {status['state']} in {seconds:.0f} s ({seconds / 60:.1f} min)")
    for name in ("before", "after"):
        result = status["evaluation"].get(name, {})
        categories = {k: v["accuracy"] for k, v in result.get("by_category", {}).items()}
        print(f"  {name}: strict {result.get('accuracy')} lenient {result.get('lenient_accuracy')}")
        print(f"    by category {categories}")
    print(f"  tokens/s {status.get('tokens_per_second')}")


if __name__ == "__main__":
    main()
