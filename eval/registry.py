"""Benchmark declarations: one YAML or JSON file per benchmark, collected from a folder.

A declaration names the data (the offline corpus or an instruction-data adapter), the
prompt or prompts, the family that scores it and its headline metric. The built-in ones live
in `eval/benchmarks/`; `--benchmarks DIR` adds more (a file there with the same `name`
replaces the built-in one). Suites are the `suites:` tags of the files.

```yaml
name: esc50                      # unique; also the results key
family: classification           # classification | captioning | aqa | hallucination | speech
description: ESC-50 test fold, 50 classes, top-1 accuracy
suites: [public]
data:
  source: esc50                  # `offline` or an adapter: esc50, urbansound8k, vggsound, ...
  split: test                    # train | validation | test | all
  root: null                     # the set's folder; else `--data esc50=PATH`
prompts: ["What sound is this?"] # several: item i uses prompt i mod len
metric: accuracy                 # the headline metric
max_new_tokens: 32
```
"""

from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from alm.errors import AlmError
from alm.typed_config import ConfigError, errors_in, fill, read_mapping

BUILTIN_DIR = Path(__file__).parent / "benchmarks"
Family = Literal["classification", "captioning", "aqa", "hallucination", "speech"]
Split = Literal["train", "validation", "test", "all"]
LabelField = Literal["labels", "answer", "transcript"]
NegativeMode = Literal["random", "popular", "adversarial"]
FAMILIES: tuple[str, ...] = typing.get_args(Family)
NEGATIVE_MODES: tuple[str, ...] = typing.get_args(NegativeMode)
# family -> metrics that may be the headline (higher is better, except those in LOWER_IS_BETTER)
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "hit_at_1", "map"),
    "captioning": ("cider_d", "spider", "spice", "meteor", "bleu_4", "rouge_l", "embedding_similarity"),
    "aqa": ("accuracy", "accuracy_any", "yes_no_accuracy", "word_accuracy"),
    "hallucination": ("accuracy", "f1", "precision", "recall"),
    "speech": ("wer", "cer", "exact_match"),
}
LOWER_IS_BETTER = frozenset({"wer", "cer"})   # error rates: a win is a smaller number
# placeholders a prompt may use, per source kind
PROMPT_FIELDS = {"offline": {"instruction"}, "public": {"label", "question"}}


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER


@dataclass
class DataSpec:
    source: str  # "offline" or an adapter name from instruction_data.adapters.PUBLIC
    split: Split = "test"  # which part of the set is scored
    root: str | None = None  # folder of the set (public) or of the corpus (offline); None = default
    tasks: list[str] = field(default_factory=list)  # offline: record tasks kept
    label_field: LabelField = "labels"  # classification: "labels" (first = the class), "answer", "transcript"
    multi_label: bool = False  # classification: score mAP over all labels of each clip


@dataclass
class Benchmark:
    name: str  # unique; also the results key
    family: Family  # the family that scores it
    data: DataSpec  # where the items come from
    prompts: list[str]  # the question(s); item i uses prompt i mod len (`prompt: TEXT` is one)
    metric: str  # the headline metric, one of HEADLINE_METRICS[family]
    description: str = ""  # one paragraph for `alm eval list` and reports
    suites: list[str] = field(default_factory=list)  # tags that `--suite` selects by
    max_new_tokens: int = 64  # answer length limit
    # hallucination on public sets: how negatives are drawn
    negative_modes: list[NegativeMode] = field(default_factory=lambda: list(NEGATIVE_MODES))
    seed: int = 0  # drives sampling of negatives, --limit subsets and chance baselines
    path: str = field(default="", init=False)  # the file it was declared in (set on reading, not a key)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    """What the field types cannot say: metric per family, known source, usable prompts."""
    from instruction_data.adapters import PUBLIC

    family, data = bench.family, bench.data
    if bench.metric not in HEADLINE_METRICS[family]:
        raise ConfigError(f"metric: {bench.metric!r} is not among the {family} metrics "
                          f"({', '.join(HEADLINE_METRICS[family])})")
    if data.source != "offline" and data.source not in PUBLIC:
        raise ConfigError(f"data.source: {data.source!r} is neither `offline` nor an adapter ({', '.join(PUBLIC)})")
    if data.source == "offline" and not data.tasks:
        raise ConfigError("data.tasks: an offline benchmark lists the record `tasks` it uses")
    if not bench.prompts or not all(p.strip() for p in bench.prompts):
        raise ConfigError("prompts: must be a non-empty list of non-empty strings")
    allowed = PROMPT_FIELDS["offline" if data.source == "offline" else "public"]
    for p in bench.prompts:
        try:
            p.format(**{k: "x" for k in allowed})
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"prompts: {p!r} uses an unknown placeholder {exc}; allowed: "
                              f"{', '.join('{' + k + '}' for k in sorted(allowed))}") from None
    if "{label}" not in "".join(bench.prompts) and family == "hallucination" and data.source != "offline":
        raise ConfigError("prompts: a hallucination prompt on a public set must ask about {label}")
    if bench.max_new_tokens < 1:
        raise ConfigError(f"max_new_tokens: must be > 0, got {bench.max_new_tokens}")


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
    return found


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
