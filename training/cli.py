"""`alm train RECIPE`: run one stage file, or a curriculum folder of stage files in order."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

# Before torch loads OpenMP: idle threads sleep instead of spinning. On a CPU shared with other
# work, spinning threads made steps 5-10x slower (measured on a 2-core machine under load).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("recipe", nargs="?", help="a stage YAML file, a folder of stage files run in name order, "
                                                  "or a packaged recipe: alm-tiny, alm-tiny/stage1")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a recipe key in every stage, e.g. --set max_steps=5 --set data.max_samples=200 "
                             "(values are read as YAML; repeatable); a new model's field (--set model.sound_encoder="
                             "builtin:yamnet) applies to the stages that build the model, and later stages (init_from) "
                             "inherit it")
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="train each stage into DIR/<stage name> instead of its output_dir (a stage that starts "
                             "from an earlier stage starts from that stage's new folder)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue an unfinished stage from its newest checkpoint (same data order, optimizer, "
                            "scheduler and RNG state)")
    again.add_argument("--restart", action="store_true",
                       help="discard an unfinished stage's checkpoints and start over")
    parser.add_argument("--force", action="store_true", help="retrain stages whose final model already exists")
    parser.add_argument("--stop-after", type=int, default=None, metavar="STEPS",
                        help="stop after this many optimizer steps, leaving a checkpoint; --resume continues")
    parser.add_argument("--check", action="store_true",
                        help="validate the recipe and show each stage's data and steps, without training")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument("--keys", action="store_true",
                        help="list every key a stage file may set, with its type, default and meaning, and exit")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from alm.errors import AlmError

    if args.keys:
        from alm.typed_config import describe_keys
        from training.config import TrainConfig

        print("\n".join(describe_keys(TrainConfig)))
        return 0
    if not args.recipe:
        raise AlmError("give a recipe: a stage file, a folder of them, or a packaged name such as alm-tiny")
    if args.stop_after is not None and args.stop_after <= 0:
        raise AlmError("--stop-after must be >= 1")
    from training.curriculum import describe, load_stages, run_curriculum

    if args.check:
        for stage in load_stages(args.recipe, args.overrides, args.out):
            print(describe(stage))
        return 0
    check_data(load_stages(args.recipe, args.overrides, args.out), force=args.force)  # before any model is loaded
    command = shlex.join(["alm", *sys.argv[1:]])  # the same for `alm`, `python -m alm` and `accelerate launch -m alm`
    run_curriculum(args.recipe, args.overrides, out=args.out, resume=args.resume, restart=args.restart,
                   force=args.force, stop_after=args.stop_after, progress=not args.quiet, command=command)
    return 0


def check_data(stages, force: bool = False) -> None:
    """Each stage still to train has its corpus and the split files it reads; else one line naming what is missing."""
    from alm.errors import AlmError
    from instruction_data.loader import corpus_dir
    from training.engine import stage_done

    for stage in stages:
        if stage_done(stage.config) and not force:
            continue
        data = stage.config.data
        folder = corpus_dir(data.root)  # DataError when there is no corpus (manifest.json) at all
        for split in dict.fromkeys([data.split, *([data.eval_split] if data.eval_samples else [])]):
            if not (folder / f"{split}.jsonl").is_file():
                raise AlmError(f"{stage.path.name}: the corpus {folder} has no {split} split ({split}.jsonl); "
                               f"rebuild it with `alm data build --out {folder}`")
