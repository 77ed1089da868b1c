"""Bounded loopback load: N clients for T seconds over /chat, /tools/execute and /v1 chat.

Each client loops over the three requests in turn until the time is up. Printed per route and in
total: requests/s, p50/p99 latency and the count of each status code. A healthy run has no 5xx
but 503 (backpressure); 429 means the per-key rate limit was reached.

    python bench/load_test.py --duration 60 --clients 32           # starts the app itself
    python bench/load_test.py --url http://127.0.0.1:8000 --api-key KEY   # a running app

Started by this script, the app serves the shipped model with default limits and gives every
client its own API key (the per-key rate limit then applies per client, as for separate users).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.serve_process import ServeApp  # noqa: E402


def requests_of(model: str) -> list[tuple[str, dict]]:
    """(path, JSON body) of the requests each client sends in turn."""
    return [
        ("/chat", {"messages": [{"role": "user", "content": "你好"}], "max_new_tokens": 16}),
        ("/tools/execute", {"tool_name": "calculate", "arguments": {"expression": "15 * 23"}}),
        (
            "/v1/chat/completions",
            {"model": model, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16},
        ),
    ]


async def client_loop(
    url: str,
    key: str | None,
    plan: list[tuple[str, dict]],
    offset: int,
    until: float,
    latencies: dict[str, list[float]],
    statuses: dict[str, Counter],
) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300) as http:
        index = offset
        while time.monotonic() < until:
            path, body = plan[index % len(plan)]
            index += 1
            started = time.perf_counter()
            try:
                status: int | str = (await http.post(path, json=body)).status_code
            except httpx.HTTPError as error:
                status = type(error).__name__
            latencies[path].append(time.perf_counter() - started)
            statuses[path][status] += 1


def percentile(values: list[float], share: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


async def load(url: str, keys: list[str | None], duration: float) -> bool:
    """Run the load; print the table; True when no 5xx other than 503 was seen."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        headers = {"Authorization": f"Bearer {keys[0]}"} if keys[0] else {}
        model = (await http.get("/v1/models", headers=headers)).json()["data"][0]["id"]
    plan = requests_of(model)
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, Counter] = defaultdict(Counter)
    started = time.monotonic()
    until = started + duration
    await asyncio.gather(
        *(client_loop(url, key, plan, i, until, latencies, statuses) for i, key in enumerate(keys))
    )
    elapsed = time.monotonic() - started
    print(f"{len(keys)} clients, {elapsed:.1f} s (the last requests end after the deadline)")
    print(f"{'route':24} {'requests':>8} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>8}  statuses")
    every = []
    total: Counter = Counter()
    for name, _ in plan:
        values = latencies[name]
        every += values
        total += statuses[name]
        print(
            f"{name:24} {len(values):8d} {len(values) / elapsed:7.1f} "
            f"{percentile(values, 0.5) * 1000:8.0f} {percentile(values, 0.99) * 1000:8.0f}  "
            f"{dict(sorted(statuses[name].items(), key=str))}"
        )
    print(
        f"{'all':24} {len(every):8d} {len(every) / elapsed:7.1f} "
        f"{percentile(every, 0.5) * 1000:8.0f} {percentile(every, 0.99) * 1000:8.0f}  "
        f"{dict(sorted(total.items(), key=str))}"
    )
    bad = {s: n for s, n in total.items() if not isinstance(s, int) or (s >= 500 and s != 503)}
    print("no 5xx but 503" if not bad else f"FAILED: unexpected statuses {bad}")
    return not bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", help="a running app; without it the script starts one")
    parser.add_argument("--api-key", help="key sent by every client (with --url)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    args = parser.parse_args()
    if args.url:
        ok = asyncio.run(load(args.url, [args.api_key] * args.clients, args.duration))
    else:
        keys = [f"sk-load-{secrets.token_hex(8)}" for _ in range(args.clients)]
        with tempfile.TemporaryDirectory(prefix="mcp-tune-load-") as workdir:
            app = ServeApp(Path(workdir), {}, env={"MCP_TUNE_API_KEYS": ",".join(keys)})
            with app.start():
                ok = asyncio.run(load(app.url, keys, args.duration))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
