"""`alm chat`: the Gradio chat on its own (the in-process model, or any OpenAI-compatible server)."""

from __future__ import annotations

import argparse

from alm.checkpoints import DEFAULT_MODEL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Open a Gradio chat: upload or record sounds (several per turn), ask about them, keep "
                          "talking. Runs the model in-process, or talks to a server given with --api-url.")
    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"checkpoint to load (default: {DEFAULT_MODEL})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu; default), cpu, cuda, ...")
    parser.add_argument("--transcribe", action=argparse.BooleanOptionalAction, default=None,
                        help="give the LLM Whisper's transcript of each clip and allow showing them, or not "
                             "(default: as the model was trained; alm-tiny: yes)")
    parser.add_argument("--api-url", default=None,
                        help="talk to this OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1) instead of "
                             "loading the model")
    parser.add_argument("--api-key", default=None, help="API key for --api-url")
    parser.add_argument("--served-model-name", default=None, help="model id to ask --api-url for")


def run(args: argparse.Namespace) -> int:
    from serve.chat import build_chat

    if args.api_url:
        from serve.backends import OpenAIBackend

        backend = OpenAIBackend(args.api_url, args.served_model_name or args.model, args.api_key)
    else:
        from serve.backends import LocalBackend
        from serve.cli import load_assistant

        backend = LocalBackend(load_assistant(args.model, args.device, args.transcribe), args.model)
    demo = build_chat(backend)
    print(f"alm chat on http://{args.host}:{args.port}", flush=True)
    demo.launch(server_name=args.host, server_port=args.port, share=False, show_error=False, quiet=True)
    return 0
