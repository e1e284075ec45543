"""`alm serve`: the OpenAI-compatible API (and the Gradio chat at /chat) on one port.

    alm serve                                  # alm-tiny, transformers engine, http://127.0.0.1:8000
    alm serve --engine vllm                    # vLLM's own OpenAI server on our checkpoint (+ chat on port+1)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from alm.checkpoints import DEFAULT_MODEL
from alm.errors import AlmError

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Serve an OpenAI-compatible API (/v1/chat/completions with input_audio / audio_url parts, "
                          "/v1/models, /health) and the Gradio chat (/chat).")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"checkpoint (default: {DEFAULT_MODEL})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--engine", choices=["transformers", "vllm"], default="transformers")
    parser.add_argument("--device", default="cpu", help="transformers engine: cpu, cuda, ... (default: cpu)")
    parser.add_argument("--served-model-name", default=None, help="model id clients use (default: --model)")
    parser.add_argument("--api-key", default=os.environ.get("ALM_API_KEY"),
                        help="require 'Authorization: Bearer KEY' on /v1 (default: $ALM_API_KEY; none = open). "
                             "The chat then asks for user 'alm' with this key as password.")
    parser.add_argument("--no-chat", action="store_true", help="do not serve the Gradio chat")
    parser.add_argument("--transcribe", action=argparse.BooleanOptionalAction, default=None,
                        help="give the LLM Whisper's transcript of each clip (LTU-AS) or not (default: as the model "
                             "was trained; alm-tiny: yes)")
    group = parser.add_argument_group("limits and batching (transformers engine)")
    group.add_argument("--max-request-mb", type=float, default=64, help="request body limit (413 above)")
    group.add_argument("--max-in-flight", type=int, default=32, help="queued + running requests (503 above)")
    group.add_argument("--max-batch", type=int, default=8, help="conversations per batched generate call")
    group.add_argument("--batch-window-ms", type=float, default=8.0, help="wait this long for a batch to fill")
    group.add_argument("--max-tokens-limit", type=int, default=2048, help="largest max_tokens a request may ask")
    group = parser.add_argument_group("where audio may come from")
    group.add_argument("--allow-remote-audio", action="store_true",
                       help="fetch http(s) audio_url URLs (public addresses only); off by default")
    group.add_argument("--audio-root", type=Path, default=None,
                       help="allow file:// audio_url URLs for files under this folder")
    group = parser.add_argument_group("vLLM engine")
    group.add_argument("--vllm-python", type=Path, default=Path(os.environ.get("ALM_VLLM_PYTHON", DEFAULT_VLLM_PYTHON)),
                       help="python of the vLLM venv (default: .venv-vllm/bin/python; build it with "
                            "serve/vllm/setup_vllm_env.sh)")
    group.add_argument("--chat-port", type=int, default=None, help="port of the chat beside vLLM (default: port+1)")
    group.add_argument("--vllm-max-audio-seconds", type=float, default=None,
                       help="longest clip vLLM accepts (default 60; vLLM profiles one clip this long at start-up)")
    group.add_argument("--vllm-arg", action="append", default=[], metavar="ARG",
                       help="extra argument for vLLM's server (repeatable), e.g. --vllm-arg=--max-num-seqs=16")


def load_assistant(model: str, device: str = "cpu", transcribe: bool | None = None):
    """`transcribe`: None follows the model's config (`speech_transcripts`)."""
    _quiet()
    from alm.inference import Assistant

    return Assistant.load(model, device=device, speech_transcripts=transcribe)


def _quiet() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from alm.logs import silence_transformers

    silence_transformers()


def build_app(assistant, settings, chat: bool = True, batch_window_ms: float = 8.0, max_batch: int = 8):
    """The FastAPI app: API + (optionally) the chat mounted at /chat."""
    from fastapi.responses import RedirectResponse

    from serve.api import create_app
    from serve.engine import TransformersEngine

    engine = TransformersEngine(assistant, batch_window_ms=batch_window_ms, max_batch=max_batch,
                                max_in_flight=settings.max_in_flight)
    app = create_app(engine, settings)
    if chat:
        import gradio as gr

        from serve.backends import LocalBackend
        from serve.chat import build_chat

        demo = build_chat(LocalBackend(assistant, settings.model_name))
        auth = ("alm", settings.api_key) if settings.api_key else None
        app = gr.mount_gradio_app(app, demo, path="/chat", auth=auth, show_error=False)

        @app.get("/", include_in_schema=False)
        async def _root():
            return RedirectResponse("/chat/")
    return app


def run(args: argparse.Namespace) -> int:
    if args.engine == "vllm":
        from serve.vllm.launch import run_vllm

        return run_vllm(args)
    import uvicorn

    from serve.server import uvicorn_config
    from serve.settings import ServerSettings

    if args.audio_root is not None and not args.audio_root.is_dir():
        raise AlmError(f"--audio-root {args.audio_root}: not a folder")
    settings = ServerSettings(
        model_name=args.served_model_name or args.model, api_key=args.api_key or None,
        max_body_bytes=int(args.max_request_mb * 1024 * 1024), max_in_flight=args.max_in_flight,
        batch_window_ms=args.batch_window_ms, max_batch=args.max_batch, max_tokens_limit=args.max_tokens_limit,
        allow_remote_audio=args.allow_remote_audio, audio_root=args.audio_root)
    assistant = load_assistant(args.model, args.device, args.transcribe)
    if not assistant.trained:
        print(f"note: {args.model} has an untrained aligner; its answers do not reflect the audio yet",
              file=sys.stderr)
    app = build_app(assistant, settings, chat=not args.no_chat, batch_window_ms=args.batch_window_ms,
                    max_batch=args.max_batch)
    base = f"http://{args.host}:{args.port}"
    print(f"alm serve: API {base}/v1" + ("" if args.no_chat else f", chat {base}/chat"), flush=True)
    uvicorn.Server(uvicorn_config(app, args.host, args.port, log_level="info")).run()
    return 0
