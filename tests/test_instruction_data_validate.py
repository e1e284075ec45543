"""Validation: every problem names the file, the line or index, the field and the reason."""

from __future__ import annotations

import json

import pytest

from alm.cli import main
from instruction_data.errors import DataError
from instruction_data.validate import validate_file

GOOD = {"instruction": "What is it?", "input": "", "audio_id": "a.wav", "dataset": "d", "task": "caption",
        "output": "A bell.", "id": "r0", "stage": "perception", "sound": ["a.wav"]}


def _jsonl(tmp_path, objs, raw_lines=()):
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in objs) + "".join(raw_lines))
    return path


def test_first_problem_stops_with_file_line_and_field(tmp_path):
    path = _jsonl(tmp_path, [GOOD, {**GOOD, "id": "r1", "output": ""}])
    with pytest.raises(DataError) as exc:
        validate_file(path)
    message = str(exc.value)
    assert str(path) in message and "line 2" in message and "field 'output'" in message


def test_skip_invalid_reports_all_and_counts(tmp_path):
    bad = [
        {**GOOD, "id": "r1", "stage": "thinking"},
        {**GOOD, "id": "r2", "task": "existence"},  # no negative_mode
        {**GOOD, "id": "r0"},  # duplicate id
        {**GOOD, "id": "r4", "audio_id": "b.wav"},  # not sound[0]
    ]
    path = _jsonl(tmp_path, [GOOD, *bad], raw_lines=["{not json\n"])
    result = validate_file(path, skip_invalid=True)
    assert len(result.records) == 1 and result.skipped == 5
    found = {(p.location, p.field) for p in result.problems}
    assert {("line 2", "stage"), ("line 3", "negative_mode"), ("line 4", "id"), ("line 5", "audio_id"),
            ("line 6", "(record)")} <= found
    assert all(str(path) in str(p) for p in result.problems)


def test_json_list_uses_index_and_checks_conversation_placeholders(tmp_path):
    conv = {"id": "c0", "sound": ["a.wav", "b.wav"], "task": "multi_clip_which", "stage": "reasoning",
            "conversations": [{"from": "human", "value": "<sound>\nWhich one?"}, {"from": "gpt", "value": "First."}]}
    path = tmp_path / "data.json"
    path.write_text(json.dumps([GOOD, conv]))
    result = validate_file(path, skip_invalid=True)
    (problem,) = result.problems
    assert problem.location == "index 1" and problem.field == "conversations[0]" and "placeholders" in problem.reason


def test_missing_audio_is_reported_when_asked(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"x")
    path = _jsonl(tmp_path, [GOOD, {**GOOD, "id": "r1", "audio_id": "gone.wav", "sound": ["gone.wav"]}])
    result = validate_file(path, skip_invalid=True, check_audio_root=tmp_path)
    assert [(p.location, p.field) for p in result.problems] == [("line 2", "sound")]


def test_cli_validate_exit_codes(tmp_path, capsys):
    good = _jsonl(tmp_path, [GOOD])
    assert main(["data", "validate", str(good)]) == 0
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**GOOD, "instruction": 3}) + "\n")
    assert main(["data", "validate", str(bad)]) == 1
    assert "line 1" in capsys.readouterr().err
    assert main(["data", "validate", str(bad), "--skip-invalid"]) == 1
    assert "field 'instruction'" in capsys.readouterr().out
