"""How far a tag-reading model's sound-class answers follow its own tagger: for each item of a classification run
(`alm eval ... --out DIR`), the model's tagger's first tag against the reference label and against the label the
model's answer was read as. The tagger table in training/README.md ("The hidden-layer tagger in a model") came
from this script.

    .venv/bin/python scripts/tagger_vs_answers.py runs/alm-tiny-v3-hidden/stage2/model \
        runs/eval/ood-class/results.json --benchmark offline-classification-ood

Prints one JSON line: shares of the items (and counts) where the first tag is a label the tagger knows, is right,
where the model is right, where its answer is the first tag, and where one is right and the other not."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from alm.model.tagger import SoundTagger  # noqa: E402
from tagger_heads import answered_items, layer_stats, tagger_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", help="the alm model folder the run evaluated (it has tagger.json)")
    ap.add_argument("results", help="the run's results.json")
    ap.add_argument("--benchmark", default="offline-classification-ood")
    args = ap.parse_args()
    items = answered_items(args.results, args.benchmark)
    if not (Path(args.model) / "tagger.json").is_file():
        raise SystemExit(f"{args.model}: no tagger.json (a model without sound tags has no first tag to compare)")
    tagger = SoundTagger.load(Path(args.model))
    model, processor = tagger_model(args.model)
    stats = layer_stats(model, processor, [it["audio"][0] for it in items], tagger.settings.layers)  # A, K, 2C
    first = [tagger.settings.labels[i] for i in tagger.clip_probabilities(stats).argmax(1).tolist()]
    known = set(tagger.settings.labels)
    counts: Counter = Counter()
    for item, tag in zip(items, first):
        reference, answered, right = item["reference"]["label"], item["model"]["label"], item["model"]["correct"]
        counts["reference_known"] += reference in known
        counts["first_tag_right"] += tag == reference
        counts["model_right"] += right
        counts["answer_is_first_tag"] += answered == tag
        counts["tag_right_model_wrong"] += tag == reference and not right
        counts["tag_wrong_model_right"] += tag != reference and right
    n = len(items)
    print(json.dumps({"items": n, **{k: round(v / n, 3) for k, v in counts.items()}, "counts": dict(counts)}))


if __name__ == "__main__":
    main()
