"""An LLM judge for open-ended answers, through any OpenAI-compatible endpoint (opt-in).

The offline string metrics (CIDEr-D, METEOR, accuracy against the annotators ...) stay the scores
of record. With `--judge-endpoint URL --judge-model NAME`, each answer of a benchmark whose answers
are open-ended (`JUDGED_FAMILIES`) is also shown to the judge beside the item's references and
rated 1-10; `judge_score` is the mean rating of each answering system (model, no audio,
mismatched audio), so the judge's number has the same baselines as the others. The judge's URL,
model, prompt, temperature and token limit are recorded in the results; its replies go through
the evaluation's one endpoint runner (`alm.openai_client.ChatEndpoint`, retries) and answer cache
(`OUT/cache/judge.jsonl`), so a rerun asks it nothing new. A reply without a rating 1-10 is left
out of the mean and counted in `judge_unread`; when the judge cannot be reached the score is
reported as unavailable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alm.errors import AlmError
from eval.data import Item
from eval.runners import NO_AUDIO, AnswerCache, Decoding, EndpointRunner, Query, answer_all

JUDGED_FAMILIES = ("captioning", "aqa")  # families whose answers are free text compared with people's
PROMPT = """You are grading an audio assistant's answer to a question about an audio clip that you cannot hear. \
Judge the answer only against the reference answers, written by people who heard the clip.

Question: {question}
Reference answers:
{references}
Assistant's answer: {answer}

How well does the assistant's answer agree with the reference answers? Rate it from 1 (wrong, unrelated or \
empty) to 10 (fully agrees; the wording may differ). Reply with the number only."""
RATING = re.compile(r"(?<!\d)(?<!\d\.)(10|[1-9])(?!\.?\d)")  # a whole number, not part of 3.5 or 11


@dataclass(frozen=True)
class JudgeSettings:
    url: str                    # the judge's OpenAI-compatible base URL
    model: str                  # the model name sent to it
    api_key: str | None = None  # never recorded
    temperature: float = 0.0    # 0 = greedy
    max_tokens: int = 8         # a rating needs few
    concurrency: int = 4
    timeout_s: float = 120.0
    retries: int = 4


def references(item: Item) -> list[str]:
    """The item's reference answers as text (captions, annotators' answers, the label ...)."""
    ref = item.reference
    for key in ("captions", "answers"):
        if ref.get(key):
            return list(dict.fromkeys(str(x) for x in ref[key]))
    for key in ("answer", "label", "transcript"):
        if ref.get(key):
            return [str(ref[key])]
    return []


def read_rating(reply: str) -> int | None:
    """The first whole number 1-10 of the judge's reply; None when there is none."""
    found = RATING.search(reply or "")
    return int(found.group(1)) if found else None


class Judge:
    def __init__(self, settings: JudgeSettings, cache_path: str | Path | None, progress: bool = True) -> None:
        self.settings, self.progress = settings, progress
        self.runner = EndpointRunner(settings.url, settings.model, settings.api_key, concurrency=settings.concurrency,
                                     timeout_s=settings.timeout_s, retries=settings.retries)
        self.cache = AnswerCache(cache_path)
        self.decoding = Decoding(max_new_tokens=settings.max_tokens, temperature=settings.temperature, top_p=1.0,
                                 seed=0)

    def record(self) -> dict[str, Any]:
        """What the results say about the judge (no API key)."""
        s = self.settings
        return {"url": self.runner.url, "model": s.model, "temperature": s.temperature, "max_tokens": s.max_tokens,
                "prompt": PROMPT, "families": list(JUDGED_FAMILIES)}

    def prompt(self, item: Item, answer: str) -> str:
        refs = "\n".join(f"- {r}" for r in references(item)) or "- (none)"
        return PROMPT.format(question=item.question, references=refs, answer=answer.strip() or "(no answer)")

    def rate(self, items: list[Item], texts: dict[str, list[str]],
             desc: str = "judge") -> tuple[dict[str, dict[str, Any]], dict[str, list[int | None]]]:
        """Per system: {"judge_score", "judge_unread"} (or an unavailable reason), and each item's rating."""
        queries = {s: [Query(NO_AUDIO, self.prompt(it, a), (), self.decoding) for it, a in zip(items, answers)]
                   for s, answers in texts.items()}
        try:
            replies, _ = answer_all(self.runner, [q for qs in queries.values() for q in qs], self.cache, desc=desc,
                                    progress=self.progress)
        except AlmError as exc:
            why = f"unavailable: the judge failed ({exc})"
            return {s: {"judge_score": why} for s in texts}, {s: [None] * len(items) for s in texts}
        scores, ratings = {}, {}
        for system, qs in queries.items():
            ratings[system] = [read_rating(replies[q].text) if replies[q].error is None else None for q in qs]
            read = [r for r in ratings[system] if r is not None]
            scores[system] = {"judge_score": sum(read) / len(read) if read else
                              "unavailable: no judge reply held a rating 1-10",
                              "judge_unread": 1 - len(read) / len(qs)}
        return scores, ratings
