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

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alm.errors import AlmError

BUILTIN_DIR = Path(__file__).parent / "benchmarks"
FAMILIES = ("classification", "captioning", "aqa", "hallucination", "speech")
# family -> metrics that may be the headline (higher is better, except those in LOWER_IS_BETTER)
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "classification": ("accuracy", "hit_at_1", "map"),
    "captioning": ("cider_d", "spider", "spice", "meteor", "bleu_4", "rouge_l", "embedding_similarity"),
    "aqa": ("accuracy", "accuracy_any", "yes_no_accuracy", "word_accuracy"),
    "hallucination": ("accuracy", "f1", "precision", "recall"),
    "speech": ("wer", "cer", "exact_match"),
}
LOWER_IS_BETTER = frozenset({"wer", "cer"})   # error rates: a win is a smaller number


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER
SPLITS = ("train", "validation", "test", "all")
LABEL_FIELDS = ("labels", "answer", "transcript")
NEGATIVE_MODES = ("random", "popular", "adversarial")
# placeholders a prompt may use, per source kind
PROMPT_FIELDS = {"offline": {"instruction"}, "public": {"label", "question"}}


@dataclass
class DataSpec:
    source: str                       # "offline" or an adapter name from instruction_data.adapters.PUBLIC
    split: str = "test"
    root: str | None = None           # folder of the set (public) or of the corpus (offline); None = default
    tasks: list[str] = field(default_factory=list)  # offline: record tasks kept
    label_field: str = "labels"       # classification: "labels" (first = the class), "answer", "transcript"
    multi_label: bool = False         # classification: score mAP over all labels of each clip


@dataclass
class Benchmark:
    name: str
    family: str
    data: DataSpec
    prompts: list[str]
    metric: str
    description: str = ""
    suites: list[str] = field(default_factory=list)
    max_new_tokens: int = 64
    negative_modes: list[str] = field(default_factory=lambda: list(NEGATIVE_MODES))  # hallucination, public sets
    seed: int = 0                     # drives sampling of negatives, --limit subsets and chance baselines
    path: str = ""                    # the file it was declared in

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def _fail(path: Path, message: str) -> AlmError:
    return AlmError(f"{path}: {message}")


def parse_benchmark(obj: Any, path: Path) -> Benchmark:
    """A declaration (already parsed YAML/JSON) -> a validated Benchmark."""
    if not isinstance(obj, dict):
        raise _fail(path, "a benchmark file must hold a mapping")
    known = {"name", "family", "description", "suites", "data", "prompts", "prompt", "metric", "max_new_tokens",
             "negative_modes", "seed"}
    unknown = sorted(set(obj) - known)
    if unknown:
        raise _fail(path, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(known))}")
    for key in ("name", "family", "data", "metric"):
        if key not in obj:
            raise _fail(path, f"missing `{key}`")
    family = obj["family"]
    if family not in FAMILIES:
        raise _fail(path, f"family {family!r} is not one of {', '.join(FAMILIES)}")
    metric = obj["metric"]
    if metric not in HEADLINE_METRICS[family]:
        raise _fail(path, f"metric {metric!r} is not among the {family} metrics "
                          f"({', '.join(HEADLINE_METRICS[family])})")
    data_obj = obj["data"]
    if not isinstance(data_obj, dict) or "source" not in data_obj:
        raise _fail(path, "`data` must be a mapping with a `source`")
    data_known = set(DataSpec.__dataclass_fields__)
    if set(data_obj) - data_known:
        raise _fail(path, f"unknown data key(s) {', '.join(sorted(set(data_obj) - data_known))}")
    data = DataSpec(**data_obj)
    from instruction_data.adapters import PUBLIC

    if data.source != "offline" and data.source not in PUBLIC:
        raise _fail(path, f"data source {data.source!r} is neither `offline` nor an adapter ({', '.join(PUBLIC)})")
    if data.split not in SPLITS:
        raise _fail(path, f"split {data.split!r} is not one of {', '.join(SPLITS)}")
    if data.label_field not in LABEL_FIELDS:
        raise _fail(path, f"label_field {data.label_field!r} is not one of {', '.join(LABEL_FIELDS)}")
    if data.source == "offline" and not data.tasks:
        raise _fail(path, "an offline benchmark lists the record `tasks` it uses")
    prompts = obj.get("prompts", obj.get("prompt"))
    if isinstance(prompts, str):
        prompts = [prompts]
    if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise _fail(path, "`prompts` must be a non-empty list of non-empty strings")
    allowed = PROMPT_FIELDS["offline" if data.source == "offline" else "public"]
    for p in prompts:
        try:
            p.format(**{k: "x" for k in allowed})
        except (KeyError, IndexError, ValueError) as exc:
            raise _fail(path, f"prompt {p!r} uses an unknown placeholder {exc}; allowed: "
                              f"{', '.join('{' + k + '}' for k in sorted(allowed))}") from None
    if "{label}" not in "".join(prompts) and family == "hallucination" and data.source != "offline":
        raise _fail(path, "a hallucination prompt on a public set must ask about {label}")
    modes = list(obj.get("negative_modes", NEGATIVE_MODES))
    if set(modes) - set(NEGATIVE_MODES):
        raise _fail(path, f"negative_modes must be among {', '.join(NEGATIVE_MODES)}")
    max_new = obj.get("max_new_tokens", 64)
    if not isinstance(max_new, int) or max_new < 1:
        raise _fail(path, "max_new_tokens must be a positive integer")
    suites = obj.get("suites", [])
    if isinstance(suites, str):
        suites = [suites]
    return Benchmark(name=str(obj["name"]), family=family, data=data, prompts=list(prompts), metric=metric,
                     description=str(obj.get("description", "")).strip(), suites=[str(s) for s in suites],
                     max_new_tokens=max_new, negative_modes=modes, seed=int(obj.get("seed", 0)), path=str(path))


def read_declaration(path: Path) -> Benchmark:
    try:
        text = path.read_text(encoding="utf-8")
        obj = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise _fail(path, f"cannot read: {str(exc).splitlines()[0]}") from None
    return parse_benchmark(obj, path)


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
                raise _fail(path, f"benchmark name {bench.name!r} is also declared in {seen[bench.name]}")
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
