"""The `alm` command: one entry point, one module per subcommand.

Each subcommand module defines `add_arguments(parser)` and `run(args) -> int`. Modules are
imported only when their subcommand runs, so `alm --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from alm.errors import AlmError

# name -> (module, one-line help). Each module: add_arguments(parser), run(args) -> exit code.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "ask": ("alm.commands.ask", "answer a question about one or more audio files"),
    "weights": ("alm.commands.weights", "prepare or check the built-in offline weights"),
    "export": ("alm.commands.export", "write a self-contained model folder for the Hugging Face Hub"),
    "bench": ("alm.commands.bench", "measure answer, transcript, training and serving speed (JSON + tables)"),
    "data": ("instruction_data.cli", "build and check instruction data"),
    "train": ("training.cli", "train a model through a curriculum of YAML stages"),
    "eval": ("eval.cli", "run benchmarks and compare results"),
    "serve": ("serve.cli", "serve the OpenAI-compatible API and the chat UI"),
    "chat": ("serve.chat_cli", "open the Gradio chat with audio upload"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="alm", description="alm: an open audio-language assistant")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == only:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # bitsandbytes (the qlora extra) warns at import about an optional CPU kernel package it could not
    # fetch; peft imports it whenever it is installed. Keep that off every command's output.
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    wanted = next((a for a in argv if not a.startswith("-")), None)
    if wanted in SUBCOMMANDS:
        try:
            parser = build_parser(only=wanted)
        except ImportError as exc:
            print(f"alm {wanted}: unavailable: {exc}", file=sys.stderr)
            return 2
    else:
        parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return int(args._run(args) or 0)
    except AlmError as exc:
        print(f"alm {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"alm {args.command}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:  # an extra's package, imported when the command first needs it
        if os.environ.get("ALM_DEBUG"):
            raise
        from alm.extras import missing_package_message
        print(f"alm {args.command}: error: {missing_package_message(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - last resort: one line, full trace only on request
        if os.environ.get("ALM_DEBUG"):
            raise
        print(f"alm {args.command}: internal error: {type(exc).__name__}: {exc} (set ALM_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
