"""`alm export MODEL OUT`: a self-contained model folder (every weight, the processor, a model card)."""

from __future__ import annotations

import argparse
from pathlib import Path

from alm.checkpoints import DEFAULT_MODEL


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = ("Write a folder that loads on its own (Whisper, the LLM with LoRA merged, the aligner, the "
                          "sound tagger and general-sound encoder of a model with them, the processor, generation "
                          "config and a model card), ready for the Hugging Face Hub.")
    parser.add_argument("model", nargs="?", default=DEFAULT_MODEL,
                        help=f"packaged name, checkpoint folder or Hub id (default: {DEFAULT_MODEL})")
    parser.add_argument("out", type=Path, help="folder to write (replaced if it exists)")
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="float32")
    parser.add_argument("--push-to-hub", metavar="REPO_ID", default=None,
                        help="then upload the folder to this Hub repository (needs a network and HF_TOKEN)")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: create a private repository")


def run(args: argparse.Namespace) -> int:
    import torch

    from alm.export import export_model
    from alm.logs import silence_transformers

    silence_transformers()
    folder = export_model(args.model, args.out, getattr(torch, args.dtype))
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"exported {args.model} -> {folder} ({size / 1e6:.0f} MB)")
    if args.push_to_hub:
        from alm.model.saving import push_folder

        print(f"pushed: {push_folder(folder, args.push_to_hub, private=args.private or None)}")
    return 0
