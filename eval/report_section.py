"""One benchmark's section of the report: what was asked and how it was read, the scores of every
system, and the breakdowns (orders of the choices, sampling modes, prompt wordings, languages),
plots and example answers."""

from __future__ import annotations

from typing import Any

from eval.report_parts import HEADERS, NOT_SCORES, fmt, gathered, metric_label, present, short, table, verdict
from eval.scored import ANSWERING, ASR, SYSTEMS

EXAMPLES = 5


def section(name: str, b: dict[str, Any]) -> list[str]:
    lines = [f"## {name}", ""]
    if b.get("description"):
        lines += [b["description"], ""]
    d = b["decoding"]
    lines += _data_lines(b)
    lines.append(f"- decoding: max_new_tokens={d['max_new_tokens']}, temperature={d['temperature']}, "
                 f"top_p={d['top_p']}, seed={d['seed']}")
    for system, text in b.get("baselines", {}).items():
        lines.append(f"- {system}: {text}")
    for system, why in (b.get("unavailable") or {}).items():
        lines.append(f"- **{HEADERS.get(system, system)}: unavailable: {why}**")
    for note in b.get("notes", []):
        lines.append(f"- note: {note}")
    for system, n in b.get("errors", {}).items():
        if n:
            lines.append(f"- **{n} item(s) could not be answered ({system}); they score as empty answers** "
                         f"(first: {b.get('first_error', {}).get(system, '')})")
    head = b["headline"]
    flag = verdict(head)
    if flag != "ok":
        lines.append(f"- **{flag}** on {metric_label(head['metric'])}")
    lines += _floor_lines(b)
    lines.append("")
    lines += _scores_table(b["scores"])
    breakdown = b.get("breakdown", {})
    if breakdown.get("permutations"):
        lines += _permutations_table(breakdown["permutations"])
    if breakdown.get("per_mode"):
        lines += _mode_table(breakdown["per_mode"])
    if breakdown.get("prompt_spread"):
        lines += _prompt_table(breakdown["prompt_spread"])
    if breakdown.get("per_language"):
        lines += _group_table(breakdown["per_language"], "language")
    if breakdown.get("per_origin"):
        lines += _group_table(breakdown["per_origin"], "source")
    if breakdown.get("per_source"):
        lines += _source_table(breakdown["per_source"], head["metric"])
    for plot in b.get("plots", []):
        lines += [f"![{plot}](plots/{plot})", ""]
    lines += _examples(b.get("items", [])[:EXAMPLES])
    return lines


def _data_lines(b: dict[str, Any]) -> list[str]:
    asked = (f" ({b['n_asked']} questions: {b['permutations']} orders of the choices)"
             if b.get("permutations", 1) > 1 else "")
    lines = [f"- data: {b['data_source']}; {b['n_items']} of {b['n_total']} items{asked}"]
    if b.get("release"):
        lines.append(f"- metadata release: {b['release']}")
    missing = b.get("missing_audio")
    if missing:
        lines.append(f"- **{missing['count']} item(s) left out: their audio file is absent** "
                     f"(first: {', '.join(missing['ids'][:5])})")
    for reason, n in (b.get("skipped_items") or {}).items():
        lines.append(f"- {n} item(s) left out: {reason}")
    decl = b["declaration"]
    if decl.get("prompts"):
        lines.append(f"- prompts: {'; '.join(repr(p) for p in decl['prompts'])}")
    elif b.get("items"):
        lines.append(f"- prompt: the benchmark's own, pinned by its reader (first: "
                     f"{short(b['items'][0]['question'], 160)!r})")
    lines.append(f"- scorer: {b.get('scorer') or decl.get('scorer')}")
    return lines


def _floor_lines(b: dict[str, Any]) -> list[str]:
    """The collapse detector, the probe's training set, Whisper's ratio and the non-speech transcript rate."""
    head, breakdown, lines = b["headline"], b.get("breakdown", {}), []
    collapse = breakdown.get("collapse", {})
    if collapse.get("systems"):
        shares = ", ".join(f"{HEADERS.get(s, s)} {fmt(v['share'], 2)} ({short(str(v['answer']), 30)!r}"
                           f"{gathered(v.get('distinct_answers'))})" for s, v in collapse["systems"].items())
        truth = collapse.get("truth")
        truth = f"; ground truth {fmt(truth['share'], 2)} ({short(str(truth['answer']), 30)!r})" if truth else ""
        lines.append(f"- most frequent answer (share, answer): {shares}{truth}; flagged above "
                     f"{fmt(collapse['threshold'], 2)}")
    probe = breakdown.get("probe")
    if probe:
        unseen = probe.get("unseen_classes") or {}
        lines.append(f"- encoder probe: `{probe['encoder']}` ({probe.get('encoder_identity', '')}), "
                     f"{probe['training_clips']} training clips of {probe['classes']} classes; "
                     + (f"{sum(unseen.values())} item(s) of {len(unseen)} class(es) the training split lacks count "
                        f"as wrong ({', '.join(list(unseen)[:5])})" if unseen else "every item's class is trained"))
    if head.get("asr_ratio") is not None:
        lines.append(f"- model {head['metric']} / Whisper's own: {fmt(head['asr_ratio'], 2)}")
    non_speech = breakdown.get("non_speech", {})
    for key, what in (("as_loaded", "as the model loads it"), ("gated", "the same Whisper")):
        if key in non_speech:
            r = non_speech[key]
            examples = ", ".join(repr(short(t, 40)) for t in r["examples"][:3])
            lines.append(f"- non-speech clips given a transcript by the model's transcriber ({what}, "
                         f"{_gates(r['transcriber'])}): {r['transcribed']} of {r['clips']} "
                         f"({fmt(r['rate'], 3)}; of {non_speech['of']} in the split)"
                         + (f", e.g. {examples}" if examples else ""))
    copying = breakdown.get("copying")
    if copying:
        lines.append(_copying_line(copying, head["metric"]))
    return lines


def _gates(transcriber: dict[str, Any]) -> str:
    """A transcriber's gates as the report names them (`eval.asr.describe`)."""
    gate = transcriber["no_speech_threshold"]
    tagger = " and its tagger's speech gate" if transcriber.get("speech_gate") else ""
    return f"no-speech gate {'off' if gate is None else gate}{tagger}"


def _copying_line(c: dict[str, Any], metric: str) -> str:
    """Whether the answers copy the transcripts the model read (`eval.copying`)."""
    examples = "; ".join(f"{short(e['transcript'], 80)!r} -> {short(str(e['answer']), 80)!r}"
                         for e in c["examples"][:3])
    return (f"- transcripts the model read (its transcriber, {_gates(c['transcriber'])}):"
            f" given on {c['given']} of {c['items']} items, withheld on {c['withheld']}; the answer copied the "
            f"transcript on {c['copied']} of {c['given']}; {metric} of the transcripts read {fmt(c['wer_read'], 3)}, "
            f"of the answers with each given transcript in their place {fmt(c['wer_if_copied'], 3)}"
            + (f"; not copied, e.g. {examples}" if examples else ""))


def _metric_names(scores: dict[str, dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for system in SYSTEMS:
        for key in scores.get(system, {}):
            if key not in names and key not in NOT_SCORES:
                names.append(key)
    return names


def _scores_table(scores: dict[str, dict[str, Any]]) -> list[str]:
    unavailable: dict[str, str] = {}
    systems = present(SYSTEMS, scores)
    rows = []
    for metric in _metric_names(scores):
        row = [metric_label(metric)]
        for s in systems:
            value = scores.get(s, {}).get(metric)
            if isinstance(value, str) and value.startswith("unavailable"):
                unavailable[metric] = value
                value = "n/a"
            row.append(fmt(value))
        rows.append(row)
    lines = table(rows, ["metric", *(HEADERS[s] for s in systems)])
    lines += [f"\n- {metric}: {why}" for metric, why in unavailable.items()]
    return [*lines, ""]


def _permutations_table(perm: dict[str, Any]) -> list[str]:
    rows = []
    for system, metrics in perm["spread"].items():
        for metric, s in metrics.items():
            rows.append([HEADERS.get(system, system), metric, fmt(s["mean"]), fmt(s["std"]), fmt(s["min"]),
                         fmt(s["max"]), fmt(perm["consistency"].get(system))])
    lines = [(f"Over {perm['k']} orders of the choices (order 0 = as published): mean and spread of each score, "
              "and the share of items right in every order (consistency)."), ""]
    return [*lines, *table(rows, ["system", "metric", "mean", "std", "min", "max", "consistency"]), ""]


def _mode_table(per_mode: dict[str, Any]) -> list[str]:
    rows = []
    for mode in per_mode.get("truth", {}):
        for system in ANSWERING:
            if mode in per_mode.get(system, {}):
                s = per_mode[system][mode]
                rows.append([mode, HEADERS[system], *(fmt(s.get(k)) for k in
                                                      ("accuracy", "precision", "recall", "f1", "yes_ratio"))])
        rows.append([mode, "truth", "", "", "", "", fmt(per_mode["truth"][mode].get("yes_ratio"))])
    return [*table(rows, ["mode", "system", "accuracy", "precision", "recall", "f1", "yes-ratio"]), ""]


def _prompt_table(spread: dict[str, Any]) -> list[str]:
    """The spread of the scores over the prompt wordings (Kuan et al.'s five), per mode and system."""
    def cell(s: dict[str, Any] | None) -> str:
        if not s or not s.get("n"):
            return "–"
        return f"{fmt(s['mean'])} ± {fmt(s['std'])} ({fmt(s['min'])}–{fmt(s['max'])})"

    rows = []
    for system in ANSWERING:
        for part, metrics in spread.get(system, {}).items():
            rows.append([part, HEADERS[system], cell(metrics.get("f1")), cell(metrics.get("accuracy")),
                         cell(metrics.get("yes_ratio")), str(metrics.get("f1", {}).get("n", 0))])
    lines = ["Spread over the prompt wordings (mean ± std, min–max):", ""]
    return [*lines, *table(rows, ["mode", "system", "f1", "accuracy", "yes-ratio", "wordings"]), ""]


def _group_table(groups: dict[str, dict[str, dict[str, Any]]], what: str) -> list[str]:
    """Speech scores per spoken language or per source, for every system that has them."""
    rows = []
    for group, s in groups.get("model", {}).items():
        for system in (*ANSWERING, ASR):
            if group in groups.get(system, {}):
                v = groups[system][group]
                rows.append([group, HEADERS[system], *(fmt(v.get(k)) for k in ("wer", "cer", "exact_match")),
                             str(s["support"])])
    return [*table(rows, [what, "system", "wer ↓", "cer ↓", "exact match", "items"]), ""]


def _source_table(per_source: dict[str, dict[str, dict[str, Any]]], metric: str) -> list[str]:
    """The headline per data source, one column per answering system (and the model's yes-ratio, for yes/no)."""
    systems = [s for s in ANSWERING if s in per_source]
    model = per_source[systems[0]]
    yes = all("yes_ratio" in cell for cell in model.values())
    rows = [[source, str(cell["support"]), *(fmt(per_source[s][source][metric]) for s in systems),
             *([fmt(cell["yes_ratio"])] if yes else [])] for source, cell in model.items()]
    header = ["source", "items", *(f"{HEADERS[s]} {metric_label(metric)}" for s in systems),
              *(["model yes-ratio"] if yes else [])]
    return [*table(rows, header), ""]


def _ref_text(ref: dict[str, Any]) -> str:
    for key in ("label", "answer"):
        if key in ref:
            return str(ref[key])
    if "transcript" in ref:
        return short(ref["transcript"], 60)
    if "answers" in ref:
        return "/".join(ref["answers"])
    if "captions" in ref:
        return short(ref["captions"][0], 60)
    return ""


def _examples(examples: list[dict[str, Any]]) -> list[str]:
    if not examples:
        return []
    rows = []
    for it in examples:
        m, n, x = it.get("model", {}), it.get("no_audio", {}), it.get("mismatched_audio", {})
        read = next((m[k] for k in ("label", "read", "rows_right", "correct") if k in m), None)
        rows.append([short(it["question"]), _ref_text(it["reference"]), short(m.get("answer", "")), fmt(read),
                     short(n.get("answer", "")), short(x.get("answer", ""))])
    lines = ["<details><summary>example answers</summary>\n"]
    lines += table(rows, ["question", "reference", "model answer", "read as", "no-audio answer",
                          "mismatched-audio answer"])
    return [*lines, "", "</details>", ""]
