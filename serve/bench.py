"""Latency and throughput of the API at several concurrency levels, for either engine.

    python -m serve.bench                       # both engines on alm-tiny, 10 s clip, 1/4/16 concurrent
    python -m serve.bench --engine transformers --concurrency 1 4
    python -m serve.bench --url http://127.0.0.1:8000/v1 --engine vllm   # an already running server

Each level sends `max(2, c)` requests (`--rounds` times that) from c client threads through the
`openai` SDK, each with the same clip and a greedy `max_tokens` answer, and prints per-request
latency (mean, p50, max), requests/s and generated tokens/s. Servers it starts listen on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alm.checkpoints import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[1]


def clip(seconds: float):
    """A 10 s test clip: a chord with a changing tone, so the encoder sees real structure."""
    import numpy as np

    t = np.arange(int(seconds * 16_000)) / 16_000
    wave = 0.3 * np.sin(2 * np.pi * (300 + 40 * t) * t) + 0.2 * np.sin(2 * np.pi * 660 * t)
    return wave.astype(np.float32)


def measure(base_url: str, model: str, concurrency: int, rounds: int, max_tokens: int, seconds: float) -> dict:
    from openai import OpenAI

    from serve.testing import input_audio, text

    client = OpenAI(base_url=base_url, api_key=os.environ.get("ALM_API_KEY", "none"), max_retries=0, timeout=900)
    messages = [{"role": "user", "content": [input_audio(clip(seconds)), text("What do you hear?")]}]

    def one(_):
        start = time.perf_counter()
        resp = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, temperature=0)
        return time.perf_counter() - start, resp.usage.completion_tokens

    one(0)  # warm-up (not counted)
    n = max(2, concurrency) * rounds
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - start
    latencies = sorted(r[0] for r in results)
    return {"concurrency": concurrency, "requests": n, "mean_s": statistics.mean(latencies),
            "p50_s": statistics.median(latencies), "max_s": latencies[-1], "req_per_s": n / wall,
            "tok_per_s": sum(r[1] for r in results) / wall}


def start_server(engine: str, model: str, port: int, vllm_python: Path) -> subprocess.Popen:
    if engine == "vllm":
        from serve.vllm.launch import start_vllm

        return start_vllm(model, vllm_python, "127.0.0.1", port, model, log=subprocess.DEVNULL)
    cmd = [sys.executable, "-m", "alm", "serve", "--model", model, "--port", str(port), "--no-chat"]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, start_new_session=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["transformers", "vllm", "both"], default="both")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--url", default=None, help="benchmark this running server (its /v1 URL) instead")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--rounds", type=int, default=1, help="requests per level = rounds * max(2, c)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--vllm-python", type=Path, default=REPO / ".venv-vllm" / "bin" / "python")
    parser.add_argument("--start-timeout", type=float, default=600)
    args = parser.parse_args(argv)

    from serve.server import free_port
    from serve.vllm.launch import wait_healthy

    engines = ["transformers", "vllm"] if args.engine == "both" else [args.engine]
    print(f"# {args.model}, {args.clip_seconds:g} s clip, greedy, max_tokens={args.max_tokens}, "
          f"{os.cpu_count()} CPU cores", flush=True)
    print(f"{'engine':<13} {'conc':>4} {'reqs':>4} {'mean s':>7} {'p50 s':>7} {'max s':>7} {'req/s':>6} {'tok/s':>6}")
    for engine in engines:
        proc, url = None, args.url
        if url is None:
            port = free_port()
            proc = start_server(engine, args.model, port, args.vllm_python)
            wait_healthy(f"http://127.0.0.1:{port}", proc, args.start_timeout, name=f"the {engine} server")
            url = f"http://127.0.0.1:{port}/v1"
        try:
            for c in args.concurrency:
                r = measure(url, args.model, c, args.rounds, args.max_tokens, args.clip_seconds)
                print(f"{engine:<13} {c:>4} {r['requests']:>4} {r['mean_s']:>7.2f} {r['p50_s']:>7.2f} "
                      f"{r['max_s']:>7.2f} {r['req_per_s']:>6.2f} {r['tok_per_s']:>6.1f}", flush=True)
        finally:
            if proc is not None:
                from serve.vllm.launch import stop

                stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
