"""Time to first token and decode speed of the served default model, prefix cache on vs off, tool
grammar on vs off.

Starts the app (`serve run`, the shipped defaults: Qwen2.5-Coder-0.5B-Instruct, int8 on CPU),
then measures with the built-in tools offered on every request:
- TTFT: latency of a 1-token reply on /v1/chat/completions and /chat/simple at concurrency 1,
  warm (the system prompt and tool list were seen before), cache on vs off;
- decode: aggregate completion tokens per second of /v1 at concurrency 1 and 8: the same
  requests are sent with max_tokens 1 and 1 + N, and the N extra tokens of every reply are
  divided by the extra wall time, so prefill and queueing are left out. The prompts ask for long
  answers, so every row decodes all N (the count is printed, and the mean rows per decode step).
  The end-to-end rate (tokens / wall of the 1 + N requests) is printed beside it;
- tool grammar: TTFT and decode at c=1 and c=8 again with the grammar turned off per request
  (``tool_grammar: false``), cache on, to price the per-row token mask;
- Serve vs direct: the same 8 requests through Serve and through `generate_batch` in this process,
  each timed ``--bursts`` times; the fastest of each is compared (the machine is shared: the
  slower repeats measure its other tenants, not Serve).
Prints each number and the ratios the targets are about, all from one run.

``--engines`` instead compares the engines (``model.engine``) through Serve, one app after the
other, and llama.cpp's own HTTP server (xllamacpp) on the same GGUF and adapter: warm TTFT and
decode at c=1 and c=8 (best of ``--bursts``) of each, and the ratios between them.

    python bench/serve_latency.py                  # everything
    python bench/serve_latency.py --grammar-only   # the tool grammar on vs off alone
    python bench/serve_latency.py --engines        # transformers int8 vs llama.cpp vs its server
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from configs.settings import AppConfig  # noqa: E402
from tests.serve_process import ServeApp  # noqa: E402

# Requests for long made-up texts: no offered tool fits them (a reply that calls one is short).
QUESTIONS = [
    "Write a long story about the sea.",
    "写一个关于小猫的长故事。",
    "Write a long poem about the moon.",
    "写一首关于秋天的长诗。",
    "Write a long story about a dragon who learns to sing.",
    "写一个关于熊猫的长童话。",
    "Write a long fairy tale about a lost star.",
    "编一个关于机器人的长故事。",
]


# The served model's /v1 id (the configured model_path), read from /v1/models once the app runs.
MODEL_ID = ""


def v1_body(tools: list[dict], question: str, max_tokens: int, grammar: bool = True) -> dict:
    return {
        "model": MODEL_ID,
        "messages": [{"role": "user", "content": question}],
        "tools": tools,
        "max_tokens": max_tokens,
        "tool_grammar": grammar,
    }


async def post(http: httpx.AsyncClient, path: str, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    reply = await http.post(path, json=body)
    reply.raise_for_status()
    return time.perf_counter() - started, reply.json()


async def ttft(
    http: httpx.AsyncClient,
    tools: list[dict],
    repeats: int,
    grammar: bool = True,
    simple_route: bool = True,
) -> dict[str, float]:
    """Median latency of 1-token replies, one at a time, after one warm-up of the prefix."""
    await post(http, "/v1/chat/completions", v1_body(tools, "hello", 1, grammar))
    v1, simple = [], []
    for question in QUESTIONS[:repeats]:
        body = v1_body(tools, question, 1, grammar)
        v1.append((await post(http, "/v1/chat/completions", body))[0])
        if simple_route:
            body = {"text": question + " ", "max_new_tokens": 1}
            simple.append((await post(http, "/chat/simple", body))[0])
    return {"v1": statistics.median(v1), "simple": statistics.median(simple or [0.0])}


async def burst(
    http: httpx.AsyncClient, bodies: list[dict], steps_seen: bool = True
) -> tuple[float, int, float]:
    """Send ``bodies`` together: wall seconds, completion tokens, and the mean rows the replica
    decoded per step meanwhile (0 where its steps are not seen: llama.cpp)."""
    before = (await http.get("/model/info")).json() if steps_seen else {}
    started = time.perf_counter()
    replies = await asyncio.gather(*(post(http, "/v1/chat/completions", b) for b in bodies))
    wall = time.perf_counter() - started
    produced = sum(reply["usage"]["completion_tokens"] for _, reply in replies)
    if not steps_seen:
        return wall, produced, 0.0
    after = (await http.get("/model/info")).json()
    steps = after["batches"] - before["batches"]
    rows = after["batched_requests"] - before["batched_requests"]
    return wall, produced, rows / max(steps, 1)


async def decode(
    http: httpx.AsyncClient,
    tools: list[dict],
    concurrency: int,
    tokens: int,
    grammar: bool = True,
    steps_seen: bool = True,
):
    """Aggregate decode tokens/s of ``concurrency`` requests sent together (prefill left out:
    see the module's docstring), the end-to-end rate, and the wall of the long burst."""
    questions = [QUESTIONS[i % len(QUESTIONS)] for i in range(concurrency)]
    short = [v1_body(tools, q, 1, grammar) for q in questions]
    long = [v1_body(tools, q, 1 + tokens, grammar) for q in questions]
    await burst(http, long, steps_seen)  # warm: the prefix cache holds every prompt from here on
    short_wall, _, _ = await burst(http, short, steps_seen)
    wall, produced, rows_per_step = await burst(http, long, steps_seen)
    return {
        "decode_tokens_per_s": (produced - concurrency) / (wall - short_wall),
        "end_to_end_tokens_per_s": produced / wall,
        "wall_s": wall,
        "tokens": produced,
        "full_length_tokens": concurrency * (1 + tokens),
        "mean_rows_per_step": round(rows_per_step, 2),
    }


async def measure(url: str, tokens: int, repeats: int, bursts: int) -> dict[str, dict]:
    global MODEL_ID
    results: dict[str, dict] = {}
    async with httpx.AsyncClient(base_url=url, timeout=900) as http:
        MODEL_ID = (await http.get("/v1/models")).json()["data"][0]["id"]
        schemas = (await http.get("/tools")).json()["tool_schemas"]
        tools = [
            {"type": "function", "function": {"name": name, **schema}}
            for name, schema in schemas.items()
        ]
        for cache_mb in (AppConfig().model.prefix_cache_mb, 0):
            await post(http, "/config/update", {"model": {"prefix_cache_mb": cache_mb}})
            await post(http, "/model/load", {"model_path": AppConfig().model.model_path})
            phase = {"ttft": await ttft(http, tools, repeats)}
            if cache_mb:
                phase["c1"] = await decode(http, tools, 1, tokens)
                phase["c8"] = await decode(http, tools, 8, tokens)
                # The same without the tool grammar, at once, so both see the same machine.
                phase["ttft_free"] = await ttft(http, tools, repeats, grammar=False)
                phase["c1_free"] = await decode(http, tools, 1, tokens, grammar=False)
                phase["c8_free"] = await decode(http, tools, 8, tokens, grammar=False)
                long = [v1_body(tools, q, 1 + tokens) for q in QUESTIONS]
                phase["c8_walls"] = [(await burst(http, long))[0] for _ in range(bursts)]
            results["on" if cache_mb else "off"] = phase
            print(f"prefix cache {'on' if cache_mb else 'off'}: {phase}", flush=True)
    return results


def direct_walls(tokens: int, bursts: int) -> list[float]:
    """Wall times of the c=8 requests through one generate_batch in this process (warm cache)."""
    import torch

    from llm.decode_batch import generate_batch
    from llm.generation import GenerationRequest
    from llm.loading import load_model
    from tools.registry import ToolRegistry

    config = AppConfig()
    torch.set_num_threads(2)
    with ToolRegistry.from_config(config.tools) as registry:
        tools = [spec.openai_schema() for spec in registry.specs()]
    loaded = load_model(config.model.model_path, None, config.model)
    requests = [
        GenerationRequest(
            messages=[{"role": "user", "content": q}],
            tools=tools,
            max_new_tokens=tokens,
            repetition_penalty=config.generation.repetition_penalty,
        )
        for q in QUESTIONS
    ]
    generate_batch(loaded, requests)  # warm
    walls = []
    for _ in range(bursts):
        started = time.perf_counter()
        generate_batch(loaded, requests)
        walls.append(time.perf_counter() - started)
    return walls


async def measure_grammar(url: str, tokens: int, repeats: int, rounds: int) -> None:
    """Only the tool grammar's price: TTFT and decode at c=1 and c=8 with it on and off,
    alternating ``rounds`` times; the best of each side is compared (the machine is shared)."""
    global MODEL_ID
    async with httpx.AsyncClient(base_url=url, timeout=900) as http:
        MODEL_ID = (await http.get("/v1/models")).json()["data"][0]["id"]
        schemas = (await http.get("/tools")).json()["tool_schemas"]
        tools = [{"type": "function", "function": {"name": n, **s}} for n, s in schemas.items()]
        best: dict[tuple[str, bool], float] = {}
        ttfts: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(rounds):
            for grammar in (True, False):
                ttfts[grammar].append((await ttft(http, tools, repeats, grammar))["v1"])
                for level, concurrency in (("c1", 1), ("c8", 8)):
                    rate = (await decode(http, tools, concurrency, tokens, grammar))[
                        "decode_tokens_per_s"
                    ]
                    best[level, grammar] = max(best.get((level, grammar), 0.0), rate)
                    print(f"{level} grammar {'on' if grammar else 'off'}: {rate:.1f} tokens/s")
    for level in ("c1", "c8"):
        on, off = best[level, True], best[level, False]
        print(
            f"tool grammar at {level}: decode {on:.1f} tokens/s on, {off:.1f} off (best of "
            f"{rounds}): the mask costs {(off / on - 1):+.1%} of decode time"
        )
    print(
        f"TTFT v1 (median, best round): {min(ttfts[True]):.2f} s with the tool grammar, "
        f"{min(ttfts[False]):.2f} s without"
    )


async def tools_of(http: httpx.AsyncClient) -> list[dict]:
    schemas = (await http.get("/tools")).json()["tool_schemas"]
    return [{"type": "function", "function": {"name": n, **s}} for n, s in schemas.items()]


async def engine_numbers(
    url: str, tools: list[dict], tokens: int, repeats: int, rounds: int, ours: bool
) -> dict[str, float]:
    """Warm TTFT (/v1, median; the best round) and decode tokens/s at c=1 and c=8 (the best of
    ``rounds``) of the OpenAI-compatible server at ``url``; ``ours``: it is the app."""
    global MODEL_ID
    best = {"ttft": float("inf"), "c1": 0.0, "c8": 0.0}
    async with httpx.AsyncClient(base_url=url, timeout=900) as http:
        if ours:
            MODEL_ID = (await http.get("/v1/models")).json()["data"][0]["id"]
        for _ in range(rounds):
            times = await ttft(http, tools, repeats, simple_route=False)
            best["ttft"] = min(best["ttft"], times["v1"])
            for level, concurrency in (("c1", 1), ("c8", 8)):
                rate = await decode(http, tools, concurrency, tokens, steps_seen=False)
                best[level] = max(best[level], rate["decode_tokens_per_s"])
    return best


def llamacpp_server(workdir: Path, parallel: int, threads: int):
    """llama.cpp's own HTTP server (xllamacpp) on the default model's GGUF with the shipped
    adapter as GGUF LoRA at scale 1, as a llama.cpp user would run them; (server, url)."""
    import socket

    import xllamacpp

    from llm.gguf_lora import convert_lora
    from llm.llamacpp_model import find_gguf_model

    config = AppConfig().model
    found = find_gguf_model(config.model_path, None, config)
    assert found is not None, f"{config.model_path} has no GGUF"
    params = xllamacpp.CommonParams()
    params.model.path = str(found.gguf)
    if found.adapter is not None:
        lora = convert_lora(found.adapter, workdir / "adapter.gguf", found.gguf).path
        params.lora_adapters = [xllamacpp.CommonAdapterLoraInfo(str(lora), 1.0)]
    params.n_parallel = parallel
    params.n_ctx = config.max_length * parallel
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.use_jinja = True  # its own chat template handling, tools included
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    params.hostnames, params.port = ["127.0.0.1"], port
    return xllamacpp.Server(params), f"http://127.0.0.1:{port}"


def measure_engines(args: argparse.Namespace) -> None:
    """Both engines through Serve and llama.cpp's own server, one after the other."""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        tools: list[dict] = []
        for engine in ("transformers", "llamacpp"):
            config = {"model": {"engine": engine}}
            (Path(workdir) / engine).mkdir()
            with ServeApp(Path(workdir) / engine, config).start(timeout_s=900) as app:

                async def numbers(url: str = app.url) -> dict[str, float]:
                    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
                        tools[:] = await tools_of(http)
                    return await engine_numbers(
                        url, tools, args.tokens, args.repeats, args.bursts, ours=True
                    )

                results[engine] = asyncio.run(numbers())
            print(f"{engine} through Serve: {results[engine]}", flush=True)
        server, url = llamacpp_server(Path(workdir), parallel=8, threads=2)
        results["llama-server"] = asyncio.run(
            engine_numbers(url, tools, args.tokens, args.repeats, args.bursts, ours=False)
        )
        del server
        print(f"llama.cpp's own server: {results['llama-server']}", flush=True)
    ours, before, theirs = results["llamacpp"], results["transformers"], results["llama-server"]
    print(
        f"decode c=1: llama.cpp engine {ours['c1']:.1f} tokens/s vs transformers int8 "
        f"{before['c1']:.1f}: {ours['c1'] / before['c1']:.2f}x (target >= 3.5x)"
    )
    print(
        f"decode c=8 aggregate: {ours['c8']:.1f} vs {before['c8']:.1f}: "
        f"{ours['c8'] / before['c8']:.2f}x (target >= 2x)"
    )
    print(
        f"warm TTFT /v1: llama.cpp engine {ours['ttft']:.2f} s, transformers "
        f"{before['ttft']:.2f} s, llama.cpp's server {theirs['ttft']:.2f} s (target <= 0.3 s)"
    )
    print(
        f"vs llama.cpp's own server: c=1 {ours['c1']:.1f} vs {theirs['c1']:.1f} tokens/s = "
        f"{ours['c1'] / theirs['c1']:.2f}x (target >= 0.85x); c=8 {ours['c8']:.1f} vs "
        f"{theirs['c8']:.1f} = {ours['c8'] / theirs['c8']:.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32, help="completion tokens per request")
    parser.add_argument("--repeats", type=int, default=6, help="TTFT samples per route (at most 8)")
    parser.add_argument("--bursts", type=int, default=3, help="c=8 bursts timed, Serve and direct")
    parser.add_argument(
        "--grammar-only", action="store_true", help="measure only the tool grammar on vs off"
    )
    parser.add_argument(
        "--engines",
        action="store_true",
        help="compare the engines through Serve and llama.cpp's own server",
    )
    args = parser.parse_args()
    if args.engines:
        measure_engines(args)
        return
    with tempfile.TemporaryDirectory() as workdir:
        # /chat/simple offers every built-in tool, as /v1 is sent them: the same prompts.
        every_tool = {"tools": {"chat_capabilities": ["network", "write"]}}
        with ServeApp(Path(workdir), every_tool).start(timeout_s=900) as app:
            if args.grammar_only:
                asyncio.run(measure_grammar(app.url, args.tokens, args.repeats, args.bursts))
                return
            results = asyncio.run(measure(app.url, args.tokens, args.repeats, args.bursts))
    direct_all = direct_walls(args.tokens + 1, args.bursts)  # the c=8 burst: 1 + N tokens a reply
    on, off = results["on"], results["off"]
    c1_rate, c8_rate = on["c1"]["decode_tokens_per_s"], on["c8"]["decode_tokens_per_s"]
    c1_e2e, c8_e2e = on["c1"]["end_to_end_tokens_per_s"], on["c8"]["end_to_end_tokens_per_s"]
    serve_all = on["c8_walls"]
    direct, serve_wall = min(direct_all), min(serve_all)
    print(
        f"c=8 burst walls, direct generate_batch: {', '.join(f'{w:.1f}' for w in direct_all)} s; "
        f"through Serve: {', '.join(f'{w:.1f}' for w in serve_all)} s"
    )
    for route in ("v1", "simple"):
        print(
            f"TTFT {route} at c=1: {on['ttft'][route]:.2f} s with the cache, "
            f"{off['ttft'][route]:.2f} s without: {off['ttft'][route] / on['ttft'][route]:.1f}x"
        )
    print(f"decode at c=1: {c1_rate:.1f} tokens/s; c=8: {c8_rate:.1f}: {c8_rate / c1_rate:.1f}x")
    for level in ("c1", "c8"):
        free = on[f"{level}_free"]["decode_tokens_per_s"]
        constrained = on[level]["decode_tokens_per_s"]
        print(
            f"tool grammar at {level}: decode {constrained:.1f} tokens/s on, {free:.1f} off: "
            f"the mask costs {(free / constrained - 1):+.1%} of decode time"
        )
    print(
        f"TTFT v1 with the tool grammar {on['ttft']['v1']:.2f} s, without "
        f"{on['ttft_free']['v1']:.2f} s"
    )
    print(
        f"end to end (prefill included) at c=1: {c1_e2e:.1f} tokens/s; c=8: {c8_e2e:.1f}: "
        f"{c8_e2e / c1_e2e:.1f}x ({on['c8']['tokens']} of {on['c8']['full_length_tokens']} "
        "tokens at c=8)"
    )
    print(
        f"Serve / direct generate on the same batch: {direct / serve_wall:.2f}x "
        f"(fastest of {args.bursts}: {serve_wall:.1f} vs {direct:.1f} s)"
    )


if __name__ == "__main__":
    main()
