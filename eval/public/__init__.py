"""Readers of the public benchmarks the anchors headline, one module each: the benchmark's
published folder layout -> `eval.data.Item`s (in a `common.Loaded`), with the authors' prompt
where they pin one. Their scorers live in `eval.metrics` (token_match, cmm, kuan_pope,
air_bench, clotho_aqa, with `aggregate` for spreads). `choices` holds the multiple-choice reference
and our prompt where the authors pin none, `permute` the k reorderings of the choices, `anchors` the
anchors' published numbers as data.

Clotho-AQA has no reader here: `eval.data` already reads it through its instruction-data adapter.
A benchmark declaration names a reader as its `data.source` (`READERS`); `FAMILY` says which family
scores its items and `RENDER` re-renders a multiple-choice prompt for each order of the choices.
"""

from __future__ import annotations

from eval.public import air_bench, audiocaps_pope, cmm, mmar, mmau

# benchmark source name -> load(root) -> Loaded
READERS = {
    "mmau": mmau.load,
    "mmar": mmar.load,
    "cmm": cmm.load,
    "audiocaps_pope": audiocaps_pope.load,
    "air_bench_foundation": air_bench.load,
}
# source name -> the family its items belong to (the shape of `Item.reference`)
FAMILY = {
    "mmau": "multiple_choice",
    "mmar": "multiple_choice",
    "cmm": "hallucination",
    "audiocaps_pope": "hallucination",
    "air_bench_foundation": "multiple_choice",
}
# multiple-choice source -> its pinned prompt (`choices.Render`), re-rendered for each order of the choices
RENDER = {
    "mmau": mmau.render,
    "mmar": mmar.render,
    "air_bench_foundation": air_bench.render,
}
