"""Checking record files: every problem names the file, the line or index, the field and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instruction_data.errors import DataError
from instruction_data.files import iter_raw
from instruction_data.schema import (
    NEGATIVE_MODES,
    STAGES,
    Record,
    count_placeholders,
    is_conversation,
    record_from_dict,
)


@dataclass
class Problem:
    """One bad field of one record."""

    file: str
    location: str  # "line 12" or "index 3"
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.location}: field '{self.field}': {self.reason}"


@dataclass
class ValidationResult:
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    skipped: int = 0  # records dropped because of a problem


def _is_text(value: Any, allow_empty: bool = False) -> bool:
    return isinstance(value, str) and (allow_empty or bool(value.strip()))


def _check_common(obj: dict[str, Any]) -> list[tuple[str, str]]:
    bad: list[tuple[str, str]] = []
    for name in ("task",):
        if not _is_text(obj.get(name)):
            bad.append((name, "missing or empty; a non-empty string is required"))
    if "dataset" in obj and not _is_text(obj["dataset"], allow_empty=True):
        bad.append(("dataset", "must be a string"))
    if "input" in obj and not _is_text(obj["input"], allow_empty=True):
        bad.append(("input", "must be a string (empty when no text accompanies the audio)"))
    stage = obj.get("stage")
    if stage is not None and stage not in STAGES:
        bad.append(("stage", f"{stage!r} is not one of {', '.join(STAGES)}"))
    mode = obj.get("negative_mode")
    if mode is not None and mode not in NEGATIVE_MODES:
        bad.append(("negative_mode", f"{mode!r} is not one of {', '.join(NEGATIVE_MODES)}"))
    unsure = isinstance(obj.get("metadata"), dict) and obj["metadata"].get("answer") == "unsure"
    if obj.get("task") == "existence" and obj.get("stage") is not None and mode is None and not unsure:
        bad.append(("negative_mode", ("required for task 'existence' (random, popular or adversarial; "
                                      "none only when metadata.answer is 'unsure')")))
    if "metadata" in obj and not isinstance(obj["metadata"], dict):
        bad.append(("metadata", "must be an object"))
    sound = obj.get("sound")
    if sound is not None and (not isinstance(sound, list) or not sound or not all(_is_text(s) for s in sound)):
        bad.append(("sound", "must be a non-empty list of audio paths"))
    return bad


def _check_openaqa(obj: dict[str, Any]) -> list[tuple[str, str]]:
    bad = []
    for name in ("instruction", "output", "audio_id"):
        if not _is_text(obj.get(name)):
            bad.append((name, "missing or empty; a non-empty string is required"))
    sound = obj.get("sound")
    if isinstance(sound, list) and sound and _is_text(obj.get("audio_id")) and sound[0] != obj["audio_id"]:
        bad.append(("audio_id", f"must equal sound[0] ({sound[0]!r})"))
    history = obj.get("history", [])
    if not isinstance(history, list) or not all(
        isinstance(t, dict) and _is_text(t.get("instruction")) and _is_text(t.get("output")) for t in history
    ):
        bad.append(("history", "must be a list of {instruction, output} objects with non-empty strings"))
    return bad


def _check_conversation(obj: dict[str, Any]) -> list[tuple[str, str]]:
    bad = []
    sound = obj.get("sound")
    if not isinstance(sound, list) or not sound:
        bad.append(("sound", "must be a non-empty list of audio paths"))
    conv = obj.get("conversations")
    if not isinstance(conv, list) or len(conv) < 2 or len(conv) % 2:
        return bad + [("conversations", "must be a list of human/gpt turn pairs")]
    for i, turn in enumerate(conv):
        want = "human" if i % 2 == 0 else "gpt"
        if not isinstance(turn, dict) or turn.get("from") != want or not _is_text(turn.get("value")):
            bad.append((f"conversations[{i}]", f"must be {{'from': '{want}', 'value': non-empty text}}"))
    if not bad and isinstance(sound, list):
        n = count_placeholders(conv[0]["value"])
        later = sum(count_placeholders(t["value"]) for t in conv[1:])
        if n != len(sound) or later:
            bad.append(("conversations[0]", f"has {n} <sound> placeholders (and {later} in later turns) "
                                            f"for {len(sound)} clips; one per clip, in the first turn"))
    return bad


def check_object(obj: Any) -> list[tuple[str, str]]:
    """(field, reason) for each problem of one raw object; empty when it is a valid record."""
    if not isinstance(obj, dict):
        return [("(record)", f"must be a JSON object, got {type(obj).__name__}")]
    form_check = _check_conversation if is_conversation(obj) else _check_openaqa
    return form_check(obj) + _check_common(obj)


def validate_file(path: str | Path, skip_invalid: bool = False, check_audio_root: Path | None = None
                  ) -> ValidationResult:
    """Validate every record of a file.

    Stops with `DataError` at the first bad record unless `skip_invalid`; then bad records are
    dropped, counted and listed in `problems`. `check_audio_root`: also check each clip exists
    (relative paths are taken from that folder).
    """
    result = ValidationResult()
    seen: dict[str, str] = {}
    for n, item in enumerate(iter_raw(path)):
        problems = [("(record)", item.error)] if item.error else check_object(item.obj)
        if not problems:
            rid = str(item.obj.get("id") or f"{Path(path).stem}-{n}")
            if rid in seen:
                problems.append(("id", f"duplicate id {rid!r} (first at {seen[rid]})"))
            seen.setdefault(rid, item.location)
        if not problems and check_audio_root is not None:
            problems += _missing_audio(item.obj, check_audio_root)
        if problems:
            found = [Problem(str(path), item.location, f, r) for f, r in problems]
            if not skip_invalid:
                raise DataError(str(found[0]) + (f" (and {len(found) - 1} more in this record)" if len(found) > 1 else ""))
            result.problems += found
            result.skipped += 1
            continue
        result.records.append(record_from_dict(item.obj, default_id=f"{Path(path).stem}-{n}"))
    return result


def _missing_audio(obj: dict[str, Any], root: Path) -> list[tuple[str, str]]:
    sound = obj.get("sound") or [obj.get("audio_id")]
    return [("sound" if "sound" in obj else "audio_id", f"audio file not found: {s}")
            for s in sound if not (root / s).is_file()]
