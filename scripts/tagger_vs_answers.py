"""How far a tag-reading model's sound-class answers follow its own tagger: for each item of a classification run
(`alm eval ... --out DIR`), the model's tagger's first tag against the reference label and against the label the
model's answer was read as. The tagger table in training/README.md ("The hidden-layer tagger in a model") and the
v5y figures came from this script.

    .venv/bin/python scripts/tagger_vs_answers.py runs/alm-tiny-yamtags2 \
        runs/eval-yamtags2/class-ood/results.json --benchmark offline-classification-ood

The tags are the ones the model reads when it answers (`Assistant.tag`: its Whisper layers and, for a tagger reading
a general-sound encoder, that encoder's block). `first_tag_read_right` reads each first tag as the benchmark reads an
answer (the nearest of its class names by MiniLM, `eval.families.score_classification`), so it is the score the model
would get by answering with its first tag alone: above `model_right`, the LLM loses items its tagger names.

Prints one JSON line: shares of the items (and counts) where the first tag is a label the tagger knows, is right
(as a label, and read as the benchmark reads answers), where the model is right, where its answer is the first tag,
and where one is right and the other not."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from alm.audio.io import read_audio  # noqa: E402
from alm.inference import Assistant  # noqa: E402
from eval.embed import LabelMapper, shared_embedder  # noqa: E402
from tagger_heads import answered_items  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="the alm model folder the run evaluated (it has tagger.json)")
    ap.add_argument("results", help="the run's results.json")
    ap.add_argument("--benchmark", default="offline-classification-ood")
    args = ap.parse_args()
    items = answered_items(args.results, args.benchmark)
    class_names = json.loads(Path(args.results).read_text())["benchmarks"][args.benchmark]["labels"]
    if not (Path(args.model) / "tagger.json").is_file():
        raise SystemExit(f"{args.model}: no tagger.json (a model without sound tags has no first tag to compare)")
    assistant = Assistant.load(args.model, device="cpu")
    tags = [assistant.tag([read_audio(it["audio"][0])])[0] for it in items]
    first = [clip[0][0] if clip else "" for clip in tags]  # no tag above the tagger's threshold: ""
    read = LabelMapper(class_names, shared_embedder()).map([tag or "nothing" for tag in first])
    known = set(assistant.model.tagger.settings.labels)
    counts: Counter = Counter()
    for item, tag, tag_read in zip(items, first, read):
        reference, answered, right = item["reference"]["label"], item["model"]["label"], item["model"]["correct"]
        tag_right = bool(tag) and tag_read == reference
        counts["reference_known"] += reference in known
        counts["first_tag_right"] += tag == reference
        counts["first_tag_read_right"] += tag_right
        counts["model_right"] += right
        counts["answer_is_first_tag"] += answered == tag_read
        counts["tag_right_model_wrong"] += tag_right and not right
        counts["tag_wrong_model_right"] += not tag_right and right
    n = len(items)
    print(json.dumps({"items": n, **{k: round(v / n, 3) for k, v in counts.items()}, "counts": dict(counts)}))


if __name__ == "__main__":
    main()
