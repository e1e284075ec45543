"""Latency and throughput of the API at several concurrency levels, for either engine.

    python -m serve.bench                       # both engines on alm-tiny, 10 s clip, 1/4/16/64 concurrent
    python -m serve.bench --engine transformers --concurrency 1 4
    python -m serve.bench --url http://127.0.0.1:8000/v1 --engine vllm   # an already running server
    alm bench serve --out runs/bench             # the same, with JSON and a latency plot in runs/bench

Each level sends `max(2, c)` requests (`--rounds` times that) from c client threads through the
`openai` SDK, each with the same clip (`--distinct`: each its own) and a greedy `max_tokens` answer, and prints per-request
latency (mean, p50, max), requests/s and generated tokens/s. Servers it starts listen on 127.0.0.1
and admit every request of the largest level (`--max-in-flight`), so nothing is refused with 503.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alm.checkpoints import DEFAULT_MODEL
from alm.files import atomic_write_json

REPO = Path(__file__).resolve().parents[1]
_REQUESTS = itertools.count()


def clip(seconds: float):
    """A 10 s test clip: a chord with a changing tone, so the encoder sees real structure."""
    import numpy as np

    t = np.arange(int(seconds * 16_000)) / 16_000
    wave = 0.3 * np.sin(2 * np.pi * (300 + 40 * t) * t) + 0.2 * np.sin(2 * np.pi * 660 * t)
    return wave.astype(np.float32)


def measure(base_url: str, model: str, concurrency: int, rounds: int, max_tokens: int, seconds: float,
            distinct: bool = False) -> dict:
    """`distinct`: every request gets its own clip (the chord at its own level), so no cache or shared prompt helps."""
    from openai import OpenAI

    from serve.testing import input_audio, text

    client = OpenAI(base_url=base_url, api_key=os.environ.get("ALM_API_KEY", "none"), max_retries=0, timeout=900)
    base = clip(seconds)
    same = [{"role": "user", "content": [input_audio(base), text("What do you hear?")]}]

    def one(_):
        i = next(_REQUESTS)  # across levels too, so no level reuses another's clips
        level = 1.0 - 0.0005 * (i % 1000)  # distinct samples, the same sound
        messages = [{"role": "user", "content": [input_audio(base * level), text("What do you hear?")]}] \
            if distinct else same
        start = time.perf_counter()
        resp = client.chat.completions.create(model=model, messages=messages, max_tokens=max_tokens, temperature=0)
        return time.perf_counter() - start, resp.usage.completion_tokens

    one(-1)  # warm-up (not counted)
    n = max(2, concurrency) * rounds
    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, range(n)))
    wall = time.perf_counter() - start
    latencies = sorted(r[0] for r in results)
    return {"concurrency": concurrency, "distinct_clips": distinct, "requests": n, "mean_s": statistics.mean(latencies),
            "p50_s": statistics.median(latencies), "max_s": latencies[-1], "req_per_s": n / wall,
            "tok_per_s": sum(r[1] for r in results) / wall}


def start_server(engine: str, model: str, port: int, vllm_python: Path, max_in_flight: int = 256) -> subprocess.Popen:
    if engine == "vllm":
        from serve.vllm.launch import start_vllm

        return start_vllm(model, vllm_python, "127.0.0.1", port, model, log=subprocess.DEVNULL)
    cmd = [sys.executable, "-m", "alm", "serve", "--model", model, "--port", str(port), "--no-chat",
           "--max-in-flight", str(max_in_flight)]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "HF_HUB_OFFLINE": "1"}, start_new_session=True)


def run_levels(engine: str = "both", model: str = DEFAULT_MODEL, levels: list[int] | None = None,
               max_tokens: int = 32, out: Path | None = None, url: str | None = None, rounds: int = 1,
               seconds: float = 10.0, vllm_python: Path = REPO / ".venv-vllm" / "bin" / "python",
               start_timeout: float = 600, distinct: bool = False) -> dict:
    """Measure each engine at each concurrency level; print a table, write JSON (and a plot) under `out`."""
    from serve.server import free_port
    from serve.vllm.launch import stop, wait_healthy

    levels = levels or [1, 4, 16, 64]
    engines = ["transformers", "vllm"] if engine == "both" else [engine]
    report = {"model": model, "clip_seconds": seconds, "max_tokens": max_tokens, "distinct_clips": distinct,
              "cpu_count": os.cpu_count(),
              "load_avg_before": os.getloadavg(), "results": []}
    print(f"# {model}, {seconds:g} s clip ({'a distinct clip per request' if distinct else 'the same clip'}), greedy, "
          f"max_tokens={max_tokens}, {os.cpu_count()} CPU cores", flush=True)
    print(f"{'engine':<13} {'conc':>4} {'reqs':>4} {'mean s':>7} {'p50 s':>7} {'max s':>7} {'req/s':>6} {'tok/s':>6}")
    for name in engines:
        if name == "vllm" and url is None and not Path(vllm_python).is_file():
            print(f"vllm: skipped ({vllm_python} missing; build it with serve/vllm/setup_vllm_env.sh)")
            continue
        proc, base = None, url
        if base is None:
            port = free_port()
            proc = start_server(name, model, port, vllm_python, max_in_flight=4 * max(levels))
            wait_healthy(f"http://127.0.0.1:{port}", proc, start_timeout, name=f"the {name} server")
            base = f"http://127.0.0.1:{port}/v1"
        try:
            for c in levels:
                r = {"engine": name, **measure(base, model, c, rounds, max_tokens, seconds, distinct)}
                report["results"].append(r)
                print(f"{name:<13} {c:>4} {r['requests']:>4} {r['mean_s']:>7.2f} {r['p50_s']:>7.2f} "
                      f"{r['max_s']:>7.2f} {r['req_per_s']:>6.2f} {r['tok_per_s']:>6.1f}", flush=True)
        finally:
            if proc is not None:
                stop(proc)
    report["load_avg_after"] = os.getloadavg()
    by = {(r["engine"], r["concurrency"]): r for r in report["results"]}
    report["transformers_over_vllm_mean_latency"] = {
        c: round(by[("transformers", c)]["mean_s"] / by[("vllm", c)]["mean_s"], 2)
        for c in levels if ("transformers", c) in by and ("vllm", c) in by}
    if report["transformers_over_vllm_mean_latency"]:
        print("transformers / vLLM mean latency: " + ", ".join(
            f"{c}: {v:.2f}x" for c, v in report["transformers_over_vllm_mean_latency"].items()))
    if out is not None:
        atomic_write_json(out, report)
        plot(report, out.with_suffix(".png"))
    return report


def plot(report: dict, path: Path) -> None:
    """Mean latency against concurrency, one line per engine (skipped without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for engine in dict.fromkeys(r["engine"] for r in report["results"]):
        rows = [r for r in report["results"] if r["engine"] == engine]
        ax.plot([r["concurrency"] for r in rows], [r["mean_s"] for r in rows], marker="o", label=engine)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent requests")
    ax.set_ylabel("mean latency (s)")
    ax.set_title(f"{report['model']}, {report['clip_seconds']:g} s clip")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["transformers", "vllm", "both"], default="both")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--url", default=None, help="benchmark this running server (its /v1 URL) instead")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--rounds", type=int, default=1, help="requests per level = rounds * max(2, c)")
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--vllm-python", type=Path, default=REPO / ".venv-vllm" / "bin" / "python")
    parser.add_argument("--start-timeout", type=float, default=600)
    parser.add_argument("--out", type=Path, default=None, help="write the results here as JSON (and a .png plot)")
    parser.add_argument("--distinct", action="store_true", help="a distinct clip per request (no cache helps)")
    args = parser.parse_args(argv)
    run_levels(args.engine, args.model, args.concurrency, args.max_tokens, args.out, args.url, args.rounds,
               args.clip_seconds, args.vllm_python, args.start_timeout, args.distinct)
    return 0


if __name__ == "__main__":
    sys.exit(main())
