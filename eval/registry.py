"""Benchmark declarations: one YAML or JSON file per benchmark, collected from a folder.

A declaration names the data (the offline corpus, an instruction-data adapter, or one of the
public benchmarks' own readers in `eval.public`), the prompt or prompts, the family that scores it,
the scorer (the family's own, or the benchmark authors' script) and its headline metric. The
built-in ones live in `eval/benchmarks/`; `--benchmarks DIR` adds more (a file there with the same
`name` replaces the built-in one). Suites are the `suites:` tags of the files.

```yaml
name: esc50                      # unique; also the results key
family: classification           # classification | captioning | aqa | hallucination | speech | multiple_choice
description: ESC-50 test fold, 50 classes, top-1 accuracy
suites: [public]
data:
  source: esc50                  # `offline`, an adapter (esc50, clotho_aqa ...) or a reader (mmau, cmm ...)
  split: test                    # train | validation | test | test_ood | all (offline: the 3 in-domain splits)
  root: null                     # the set's folder; else `--data esc50=PATH` or `--data-root DIR` (DIR/esc50)
prompts: ["What sound is this?"] # several: item i uses prompt i mod len; readers pin theirs (no prompts)
metric: accuracy                 # the headline metric
max_new_tokens: 32
obtain: https://github.com/karolpiczak/ESC-50   # shown when the folder is missing
```

An out-of-domain declaration reads the offline corpus's `test_ood` split (whole sources held out,
their classes seen in training from other sources) and names its in-domain counterpart
(`in_domain: offline-classification`): the report puts the two side by side.
"""

from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from alm.errors import AlmError
from alm.typed_config import ConfigError, errors_in, fill, read_mapping

BUILTIN_DIR = Path(__file__).parent / "benchmarks"
Family = Literal["classification", "captioning", "aqa", "hallucination", "speech", "multiple_choice"]
Scorer = Literal["nearest_label", "caption_metrics", "majority_answer", "annotator_rows", "pope", "kuan_pope", "cmm",
                 "transcript", "token_match", "air_bench"]
Split = Literal["train", "validation", "test", "test_ood", "all"]
LabelField = Literal["labels", "answer", "transcript"]
NegativeMode = Literal["random", "popular", "adversarial"]
FAMILIES: tuple[str, ...] = typing.get_args(Family)
NEGATIVE_MODES: tuple[str, ...] = typing.get_args(NegativeMode)
# family -> the scorers it may use; the first is its own (the default). The others follow a benchmark's
# authors: token_match (MMAU, MMAR), air_bench (AIR-Bench Foundation), kuan_pope (Kuan et al. 2024),
# cmm (CMM's PA / HR), annotator_rows (Clotho-AQA: every annotator's row is an example)
SCORERS: dict[str, tuple[str, ...]] = {
    "classification": ("nearest_label",),
    "captioning": ("caption_metrics",),
    "aqa": ("majority_answer", "annotator_rows"),
    "hallucination": ("pope", "kuan_pope", "cmm"),
    "speech": ("transcript",),
    "multiple_choice": ("token_match", "air_bench"),
}
# scorer -> metrics that may be the headline (higher is better, except those in LOWER_IS_BETTER)
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "nearest_label": ("accuracy", "balanced_accuracy", "hit_at_1", "map"),
    "caption_metrics": ("cider_d", "spider", "spice", "meteor", "bleu_4", "rouge_l", "embedding_similarity"),
    "majority_answer": ("accuracy", "accuracy_any", "yes_no_accuracy", "word_accuracy"),
    "annotator_rows": ("accuracy", "binary_accuracy", "single_word_accuracy"),
    "pope": ("accuracy", "f1", "precision", "recall"),
    "kuan_pope": ("f1", "accuracy", "precision", "recall", "pope_f1"),
    "cmm": ("accuracy", "perception_accuracy", "hallucination_resistance"),
    "transcript": ("wer", "cer", "exact_match"),
    "token_match": ("accuracy",),
    "air_bench": ("accuracy", "strict_accuracy", "task_name_mean"),
}
LOWER_IS_BETTER = frozenset({"wer", "cer"})   # error rates: a win is a smaller number
# the share of the single most frequent (read) answer above which a family's answers count as collapsed:
# classification 0.15 (the out-of-domain goal: no class above 15% of the answers, on class-capped items);
# hallucination 0.60 (one of yes/no above 60% = yes-ratio outside 0.40-0.60 on balanced items); a caption or
# transcript repeated for 15% of different clips; aqa and multiple choice 0.5 (their answers are few words)
COLLAPSE_THRESHOLDS = {"classification": 0.15, "captioning": 0.15, "aqa": 0.5, "hallucination": 0.6,
                       "speech": 0.15, "multiple_choice": 0.5}
# placeholders a prompt may use, per source kind
PROMPT_FIELDS = {"offline": {"instruction"}, "public": {"label", "question"}}


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER


@dataclass
class DataSpec:
    source: str  # "offline", an adapter (instruction_data.adapters.PUBLIC) or a reader (eval.public.READERS)
    split: Split = "test"  # which part of the set is scored (readers: the split they read)
    root: str | None = None  # folder of the set (public) or of the corpus (offline); None = default
    folder: str = ""  # the set's folder name under --data-root (default: the source name)
    tasks: list[str] = field(default_factory=list)  # offline: record tasks kept
    label_field: LabelField = "labels"  # classification: "labels" (first = the class), "answer", "transcript"
    multi_label: bool = False  # classification: score mAP over all labels of each clip
    per_class: int | None = None  # classification: at most this many items per class (a seeded draw); None = all
    transcript_words: list[int] = field(default_factory=list)  # speech: [min, max] words a reference has; [] = any


@dataclass
class Benchmark:
    name: str  # unique; also the results key
    family: Family  # the family that scores it
    data: DataSpec  # where the items come from
    metric: str  # the headline metric, one of HEADLINE_METRICS[scorer]
    prompts: list[str] = field(default_factory=list)  # the question(s); item i uses prompt i mod len; none for readers
    scorer: Scorer | None = None  # how answers are scored; None = the family's own (SCORERS[family][0])
    description: str = ""  # one paragraph for `alm eval list` and reports
    suites: list[str] = field(default_factory=list)  # tags that `--suite` selects by
    max_new_tokens: int = 64  # answer length limit
    # hallucination on public sets: how negatives are drawn (readers: the sampling modes kept)
    negative_modes: list[NegativeMode] = field(default_factory=lambda: list(NEGATIVE_MODES))
    permutations: int = 1  # multiple_choice: ask each item with k orders of its choices (mean and spread)
    breakdown: list[str] = field(default_factory=list)  # multiple_choice: item fields to report accuracy by
    seed: int = 0  # drives negatives, --limit subsets, chance baselines, mismatched clips, permutations
    obtain: str = ""  # where to get the data (shown when its folder is missing)
    protocol_note: str = ""  # how our protocol differs from the published numbers' (shown beside them)
    in_domain: str = ""  # out-of-domain declarations: the in-domain benchmark shown beside this one
    collapse_threshold: float | None = None  # flag when one answer is above this share; None = the family's default
    path: str = field(default="", init=False)  # the file it was declared in (set on reading, not a key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def threshold(self) -> float:
        """The top-answer share above which the answers count as collapsed."""
        return COLLAPSE_THRESHOLDS[self.family] if self.collapse_threshold is None else self.collapse_threshold

    @property
    def folder(self) -> str:
        """The set's folder name under --data-root."""
        return self.data.folder or self.data.source


def _one_prompt_as_list(obj: Any) -> Any:
    """`prompt: TEXT` and `prompts: TEXT` mean `prompts: [TEXT]` (prose: not split at commas as lists are)."""
    if not isinstance(obj, dict):
        return obj
    obj = dict(obj)
    if "prompt" in obj and "prompts" not in obj:
        obj["prompts"] = obj.pop("prompt")
    if isinstance(obj.get("prompts"), str):
        obj["prompts"] = [obj["prompts"]]
    return obj


def check(bench: Benchmark) -> None:
    """What the field types cannot say: scorer and metric per family, known source, usable prompts."""
    from eval.public import FAMILY as READER_FAMILY
    from instruction_data.adapters import PUBLIC

    family, data = bench.family, bench.data
    bench.scorer = bench.scorer or SCORERS[family][0]
    if bench.scorer not in SCORERS[family]:
        raise ConfigError(f"scorer: {bench.scorer!r} does not score the {family} family "
                          f"({', '.join(SCORERS[family])})")
    if bench.metric not in HEADLINE_METRICS[bench.scorer]:
        raise ConfigError(f"metric: {bench.metric!r} is not among the {family} metrics of scorer {bench.scorer} "
                          f"({', '.join(HEADLINE_METRICS[bench.scorer])})")
    known = ("offline", *PUBLIC, *READER_FAMILY)
    if data.source not in known:
        raise ConfigError(f"data.source: {data.source!r} is neither `offline`, an adapter ({', '.join(PUBLIC)}) "
                          f"nor a reader ({', '.join(READER_FAMILY)})")
    if data.source == "offline" and not data.tasks:
        raise ConfigError("data.tasks: an offline benchmark lists the record `tasks` it uses")
    if bench.max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens: must be > 0, got {bench.max_new_tokens}")
    if bench.permutations < 1:
        raise ConfigError(f"permutations: must be at least 1, got {bench.permutations}")
    if family != "multiple_choice" and (bench.permutations != 1 or bench.breakdown):
        raise ConfigError("permutations, breakdown: only a multiple_choice benchmark has choices to reorder")
    _check_data(bench)
    if data.source in READER_FAMILY:
        if READER_FAMILY[data.source] != family:
            raise ConfigError(f"family: the {data.source} reader gives {READER_FAMILY[data.source]} items, "
                              f"not {family}")
        if bench.prompts:
            raise ConfigError(f"prompts: the {data.source} reader asks the benchmark's pinned prompt; remove `prompts`")
        return
    if family == "multiple_choice":
        raise ConfigError(f"family: multiple_choice items come from a reader ({', '.join(READER_FAMILY)})")
    _check_prompts(bench)


def _check_data(bench: Benchmark) -> None:
    data = bench.data
    if data.split == "test_ood" and data.source != "offline":
        raise ConfigError("data.split: test_ood is a split of the offline corpus (data.source: offline)")
    if data.per_class is not None and (bench.family != "classification" or data.per_class < 1):
        raise ConfigError(f"data.per_class: a positive item cap per class of a classification benchmark, got "
                          f"{data.per_class} ({bench.family})")
    words = data.transcript_words
    if words and (bench.family != "speech" or len(words) != 2 or not 0 < words[0] <= words[1]):
        raise ConfigError(f"data.transcript_words: [min, max] words (0 < min <= max) of a speech benchmark's "
                          f"references, got {words} ({bench.family})")
    if bench.collapse_threshold is not None and not 0 < bench.collapse_threshold <= 1:
        raise ConfigError(f"collapse_threshold: a share in (0, 1], got {bench.collapse_threshold}")


def _check_prompts(bench: Benchmark) -> None:
    if not bench.prompts or not all(p.strip() for p in bench.prompts):
        raise ConfigError("prompts: must be a non-empty list of non-empty strings")
    allowed = PROMPT_FIELDS["offline" if bench.data.source == "offline" else "public"]
    for p in bench.prompts:
        try:
            p.format(**{k: "x" for k in allowed})
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"prompts: {p!r} uses an unknown placeholder {exc}; allowed: "
                              f"{', '.join('{' + k + '}' for k in sorted(allowed))}") from None
    if "{label}" not in "".join(bench.prompts) and bench.family == "hallucination" and bench.data.source != "offline":
        raise ConfigError("prompts: a hallucination prompt on a public set must ask about {label}")


def parse_benchmark(obj: Any, path: Path) -> Benchmark:
    """A declaration (already parsed YAML/JSON) -> a validated Benchmark; errors name `path` and the key."""
    with errors_in(path):
        bench = fill(Benchmark, _one_prompt_as_list(obj))
        check(bench)
    bench.description = bench.description.strip()
    bench.path = str(path)
    return bench


def read_declaration(path: Path) -> Benchmark:
    return parse_benchmark(read_mapping(path), path)


def collect(*folders: str | Path | None) -> dict[str, Benchmark]:
    """Benchmarks of the built-in folder, then of each given folder (later names replace earlier)."""
    found: dict[str, Benchmark] = {}
    for folder in (BUILTIN_DIR, *folders):
        if folder is None:
            continue
        folder = Path(folder).expanduser()
        if not folder.is_dir():
            raise AlmError(f"{folder}: no such benchmarks folder")
        seen: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            if path.suffix not in (".yaml", ".yml", ".json") or path.name.startswith("."):
                continue
            bench = read_declaration(path)
            if bench.name in seen:
                raise ConfigError(f"{path}: benchmark name {bench.name!r} is also declared in {seen[bench.name]}")
            seen[bench.name] = path
            found[bench.name] = bench
    for bench in found.values():
        _check_counterpart(bench, found)
    return found


def _check_counterpart(bench: Benchmark, found: dict[str, Benchmark]) -> None:
    """`in_domain` names a declared benchmark of the same family."""
    if not bench.in_domain:
        return
    other = found.get(bench.in_domain)
    with errors_in(bench.path):
        if other is None:
            raise ConfigError(f"in_domain: no benchmark named {bench.in_domain!r} is declared")
        if other.family != bench.family or other.in_domain:
            raise ConfigError(f"in_domain: {bench.in_domain!r} is not an in-domain {bench.family} benchmark")


def suites(benchmarks: dict[str, Benchmark]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for bench in benchmarks.values():
        for suite in bench.suites:
            out.setdefault(suite, []).append(bench.name)
    return out


def select(benchmarks: dict[str, Benchmark], suite_names: list[str] | None,
           names: list[str] | None) -> list[Benchmark]:
    """The benchmarks of the named suites plus the named benchmarks, in declaration order."""
    by_suite = suites(benchmarks)
    wanted: list[str] = []
    for suite in suite_names or []:
        if suite not in by_suite:
            raise AlmError(f"unknown suite {suite!r}; known suites: {', '.join(sorted(by_suite)) or 'none'}")
        wanted += sorted(by_suite[suite], key=lambda n: (FAMILIES.index(benchmarks[n].family), n))
    for name in names or []:
        if name not in benchmarks:
            raise AlmError(f"unknown benchmark {name!r}; see `alm eval list`")
        wanted.append(name)
    if not wanted:
        raise AlmError("choose what to run: --suite NAME or --benchmark NAME (see `alm eval list`)")
    return [benchmarks[n] for n in dict.fromkeys(wanted)]
