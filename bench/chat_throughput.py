"""Throughput of POST /chat through the Serve graph at concurrency 1 and N, measured in one run.

Start the app first (`serve run serve_config.yaml`), then:
    python bench/chat_throughput.py --requests 64 --concurrency 16
Requests are greedy and capped at --new-tokens; generated tokens/s is printed beside requests/s so
that replies ending early at EOS do not flatter either side.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx


async def run(
    url: str, total: int, concurrency: int, new_tokens: int
) -> tuple[float, float, list[float]]:
    """Requests/s, generated tokens/s and latencies; ``concurrency`` requests in flight."""
    latencies: list[float] = []
    generated = 0
    queue = list(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            index = queue.pop()
            body = {
                "messages": [{"role": "user", "content": f"请写一句关于数字 {index} 的话"}],
                "max_new_tokens": new_tokens,
                "temperature": 0,
            }
            started = time.perf_counter()
            response = await client.post(f"{url}/chat", json=body)
            response.raise_for_status()
            latencies.append(time.perf_counter() - started)
            nonlocal generated
            generated += response.json()["usage"]["completion_tokens"]

    async with httpx.AsyncClient(timeout=600) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return total / elapsed, generated / elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(run(args.url, 4, 1, args.new_tokens))  # warm up
    results = {
        1: asyncio.run(run(args.url, max(8, args.requests // 4), 1, args.new_tokens)),
        args.concurrency: asyncio.run(
            run(args.url, args.requests, args.concurrency, args.new_tokens)
        ),
    }
    for concurrency, (rps, tps, latencies) in results.items():
        print(
            f"concurrency {concurrency:3d}: {rps:6.2f} req/s  {tps:7.1f} tokens/s  "
            f"p50 {statistics.median(latencies) * 1000:6.0f} ms"
        )
    (rps1, tps1, _), (rpsn, tpsn, _) = results[1], results[args.concurrency]
    print(
        f"ratio c{args.concurrency}/c1: {rpsn / rps1:.2f}x requests/s, {tpsn / tps1:.2f}x tokens/s"
    )


if __name__ == "__main__":
    main()
