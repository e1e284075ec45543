"""Open-ended question-answer pairs written by a text LLM behind an OpenAI-compatible endpoint.

As LTU did for OpenAQA, each clip's metadata (labels, caption, transcript, timings, levels)
goes into a prompt asking for grounded question-answer pairs as JSON. Replies are parsed and
validated; bad pairs are dropped and counted by reason. Requests run in a thread pool and are
cached on disk, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from instruction_data.clips import Clip
from instruction_data.errors import EndpointError
from instruction_data.generate.common import make_record
from instruction_data.generate.llm_client import CachedChat, ChatClient, EndpointConfig
from instruction_data.schema import Record

SYSTEM = ("You write training data for an audio assistant. You get facts about one audio clip that the "
          "assistant will hear. Write question-answer pairs a curious listener might ask about the clip: why "
          "it sounds like this, what is happening, where it might be, what might happen next, what one should "
          "do. Answers must follow from the facts plus common sense, speak as if hearing the audio, and never "
          "mention metadata, labels or captions. Reply with a JSON list only: "
          "[{\"question\": \"...\", \"answer\": \"...\"}].")
BANNED = re.compile(r"\b(metadata|caption|label(s|ed)?|as an ai|i cannot|json)\b", re.IGNORECASE)


def clip_facts(clip: Clip) -> dict[str, Any]:
    """What the LLM is told about a clip (no file paths, no ids)."""
    facts: dict[str, Any] = {"sound classes": clip.labels, "description": clip.caption,
                             "duration_seconds": clip.duration, "loudness_dbfs": clip.loudness_db}
    if clip.transcript:
        facts.update(transcript=clip.transcript, language=clip.language, speaker=clip.speaker)
    if clip.events:
        facts["events"] = [{"sound": e.label, "start_s": e.onset, "end_s": e.offset} for e in clip.events]
    return {k: v for k, v in facts.items() if v not in ("", None, [])}


def prompt(clip: Clip, n_pairs: int) -> list[dict[str, str]]:
    user = f"Facts about the clip:\n{json.dumps(clip_facts(clip), ensure_ascii=False, indent=1)}\n\n" \
           f"Write {n_pairs} question-answer pairs."
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_pairs(text: str) -> list[Any]:
    """The JSON list in a reply (code fences and surrounding prose tolerated); [] when none."""
    match = re.search(r"\[.*\]", text, re.DOTALL)
    if not match:
        return []
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return []
    return data if isinstance(data, list) else []


def check_pair(pair: Any) -> str:
    """'' for a usable pair, else the reason it is dropped."""
    if not isinstance(pair, dict):
        return "not an object"
    q, a = pair.get("question", pair.get("q")), pair.get("answer", pair.get("a"))
    if not isinstance(q, str) or not isinstance(a, str):
        return "missing question or answer"
    q, a = q.strip(), a.strip()
    if not 8 <= len(q) <= 300 or not q.endswith("?"):
        return "question malformed"
    if not 2 <= len(a) <= 800:
        return "answer length"
    if BANNED.search(q) or BANNED.search(a):
        return "mentions metadata or refuses"
    return ""


@dataclass
class EndpointStats:
    requests: int = 0
    cached: int = 0
    pairs_kept: int = 0
    dropped: Counter = field(default_factory=Counter)  # reason -> count
    failed_clips: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"requests": self.requests, "cached": self.cached, "pairs_kept": self.pairs_kept,
                "pairs_dropped": dict(self.dropped), "failed_clips": self.failed_clips}


class EndpointGenerator:
    """Open-ended records for many clips through one endpoint."""

    def __init__(self, config: EndpointConfig, cache_dir: Path, n_pairs: int = 2) -> None:
        self.config, self.n_pairs = config, n_pairs
        self.chat = CachedChat(ChatClient(config), cache_dir)
        self.stats = EndpointStats()
        self.name = f"endpoint:{config.model}"

    def _one(self, clip: Clip) -> tuple[list[Record], list[str]]:
        """(records, reasons for dropped pairs); thread-safe (no shared counters)."""
        try:
            reply = self.chat.complete(prompt(clip, self.n_pairs))
        except EndpointError:
            return [], ["request failed"]
        pairs = parse_pairs(reply)
        if not pairs:
            return [], ["unparseable reply"]
        out, dropped = [], []
        for i, pair in enumerate(pairs[: self.n_pairs]):
            reason = check_pair(pair)
            if reason:
                dropped.append(reason)
                continue
            q = pair.get("question", pair.get("q")).strip()
            a = pair.get("answer", pair.get("a")).strip()
            out.append(make_record([clip], "open_ended", q, a, f"e{i}", generator=self.name))
        return out, dropped

    def generate(self, clips: list[Clip], progress: bool = True) -> list[Record]:
        """Records for all clips, in clip order (deterministic given the cache)."""
        with ThreadPoolExecutor(max_workers=self.config.workers) as pool:
            results = list(tqdm(pool.map(self._one, clips), total=len(clips), desc="open-ended (endpoint)",
                                disable=not progress))
        for records, dropped in results:
            self.stats.dropped.update(r for r in dropped if r != "request failed")
            self.stats.failed_clips += "request failed" in dropped
            self.stats.pairs_kept += len(records)
        self.stats.cached += self.chat.hits
        self.stats.requests += self.chat.client.calls
        return [record for records, _ in results for record in records]
