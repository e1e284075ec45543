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
from alm.limits import Limits

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Serve an OpenAI-compatible API (/v1/chat/completions with input_audio / audio_url parts, "
                          "/v1/models, /health) and the Gradio chat (/chat).")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"checkpoint (default: {DEFAULT_MODEL})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--engine", choices=["transformers", "vllm"], default="transformers")
    parser.add_argument("--device", default="auto",
                        help="transformers engine: auto (cuda, then mps, then cpu; default), cpu, cuda, ...")
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
    group.add_argument("--max-batch", type=int, default=32, help="conversations per batched generate call")
    group.add_argument("--batch-window-ms", type=float, default=8.0, help="wait this long for a batch to fill")
    group.add_argument("--max-tokens-limit", type=int, default=2048, help="largest max_tokens a request may ask")
    defaults = Limits()
    group.add_argument("--max-text-chars", type=int, default=defaults.max_text_chars,
                       help=f"characters of text per request (default {defaults.max_text_chars})")
    group.add_argument("--max-messages", type=int, default=defaults.max_messages,
                       help=f"messages per request (default {defaults.max_messages})")
    group.add_argument("--max-parts", type=int, default=defaults.max_parts,
                       help=f"content parts per request (default {defaults.max_parts})")
    group.add_argument("--max-clips", type=int, default=defaults.max_clips,
                       help=f"audio clips per request (default {defaults.max_clips})")
    group.add_argument("--max-clip-seconds", type=float, default=None,
                       help="longest clip (default: the model's max_audio_seconds)")
    group.add_argument("--max-audio-seconds", type=float, default=defaults.max_audio_seconds,
                       help=f"seconds of audio per request, all clips together "
                            f"(default {defaults.max_audio_seconds:g})")
    group.add_argument("--max-prompt-tokens", type=int, default=None,
                       help="prompt tokens per request (default: only prompt + max_tokens within the model's context)")
    group.add_argument("--shutdown-timeout", type=float, default=10.0,
                       help="on SIGTERM, cancel requests still running after this many seconds (default 10)")
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


def load_assistant(model: str, device: str = "auto", transcribe: bool | None = None):
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


def serve_logging() -> None:
    """The server's own lines (client disconnects, errors) beside uvicorn's, in its format; after `_quiet()`."""
    import logging

    from uvicorn.logging import DefaultFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
    for name in ("alm.serve", "alm.chat"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.addHandler(handler)
        logger.propagate = False


def build_app(assistant, settings, chat: bool = True, batch_window_ms: float = 8.0, max_batch: int = 32):
    """The FastAPI app: API + (optionally) the chat mounted at /chat."""
    from fastapi.responses import RedirectResponse

    from serve.api import create_app
    from serve.engine import TransformersEngine

    engine = TransformersEngine(assistant, batch_window_ms=batch_window_ms, max_batch=max_batch,
                                max_in_flight=settings.max_in_flight, limits=settings.limits)
    app = create_app(engine, settings)
    if chat:
        import gradio as gr

        from serve.backends import LocalBackend
        from serve.chat import build_chat

        demo = build_chat(LocalBackend(assistant, settings.model_name), limits=settings.limits)
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
    limits = Limits(max_text_chars=args.max_text_chars, max_messages=args.max_messages, max_parts=args.max_parts,
                    max_clips=args.max_clips, max_clip_seconds=args.max_clip_seconds,
                    max_audio_seconds=args.max_audio_seconds, max_prompt_tokens=args.max_prompt_tokens)
    settings = ServerSettings(
        model_name=args.served_model_name or args.model, api_key=args.api_key or None,
        max_body_bytes=int(args.max_request_mb * 1024 * 1024), limits=limits, max_in_flight=args.max_in_flight,
        batch_window_ms=args.batch_window_ms, max_batch=args.max_batch, max_tokens_limit=args.max_tokens_limit,
        allow_remote_audio=args.allow_remote_audio, audio_root=args.audio_root,
        shutdown_timeout_s=args.shutdown_timeout)
    assistant = load_assistant(args.model, args.device, args.transcribe)
    serve_logging()
    if not assistant.trained:
        print(f"note: {args.model} has an untrained aligner; its answers do not reflect the audio yet",
              file=sys.stderr)
    app = build_app(assistant, settings, chat=not args.no_chat, batch_window_ms=args.batch_window_ms,
                    max_batch=args.max_batch)
    base = f"http://{args.host}:{args.port}"
    print(f"alm serve: API {base}/v1" + ("" if args.no_chat else f", chat {base}/chat"), flush=True)
    uvicorn.Server(uvicorn_config(app, args.host, args.port, log_level="info",
                                  shutdown_timeout_s=settings.shutdown_timeout_s)).run()
    return 0
