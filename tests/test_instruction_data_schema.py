"""Record schema: OpenAQA and conversation forms, JSON and JSONL files, all round-trip."""

from __future__ import annotations

import json

import pytest

from instruction_data import Record, Turn, read_records, write_records
from instruction_data.schema import SOUND_PLACEHOLDER, record_from_dict


def _records() -> list[Record]:
    single = Record(id="a:classification:0", instruction="What sound is this?", output="A crow.",
                    sound=["audio/x/a.wav"], dataset="tuxpaint", task="classification", stage="perception",
                    metadata={"labels": ["crow", "bird"], "duration": 1.2})
    existence = Record(id="a:existence:0", instruction="Is there a dog?", output="No.", sound=["audio/x/a.wav"],
                       dataset="tuxpaint", task="existence", stage="perception", negative_mode="adversarial",
                       metadata={"answer": "no", "asked_label": "dog"})
    multi = Record(id="a+b:multi_clip_which:0", instruction="Which clip contains a bell?", output="The second clip.",
                   sound=["audio/x/a.wav", "audio/y/b.wav"], dataset="tuxpaint+lmms", task="multi_clip_which",
                   stage="reasoning", history=[Turn("What is in the first clip?", "A crow.")],
                   metadata={"clips": [{"clip_id": "a"}, {"clip_id": "b"}]})
    return [single, existence, multi]


def test_openaqa_fields_come_first_and_audio_id_is_first_clip():
    obj = _records()[2].to_openaqa()
    assert list(obj)[:6] == ["instruction", "input", "audio_id", "dataset", "task", "output"]
    assert obj["audio_id"] == "audio/x/a.wav" and obj["stage"] == "reasoning"


@pytest.mark.parametrize("form", ["openaqa", "conversation"])
def test_dict_round_trip(form):
    for record in _records():
        obj = record.to_openaqa() if form == "openaqa" else record.to_conversation()
        assert record_from_dict(json.loads(json.dumps(obj))) == record


def test_conversation_has_one_placeholder_per_clip_in_first_turn():
    conv = _records()[2].to_conversation()
    assert conv["conversations"][0]["value"].count(SOUND_PLACEHOLDER) == 2
    assert [t["from"] for t in conv["conversations"]] == ["human", "gpt", "human", "gpt"]
    assert SOUND_PLACEHOLDER not in conv["conversations"][2]["value"]


@pytest.mark.parametrize("name", ["records.json", "records.jsonl"])
@pytest.mark.parametrize("form", ["openaqa", "conversation"])
def test_file_round_trip(tmp_path, name, form):
    path = tmp_path / name
    assert write_records(path, _records(), form=form) == 3
    assert read_records(path) == _records()
    if name.endswith(".jsonl"):
        assert len(path.read_text().splitlines()) == 3
    else:
        assert isinstance(json.loads(path.read_text()), list)


def test_reads_ltu_openaqa_objects(tmp_path):
    ltu = [{"instruction": "What is the sound?", "input": "", "audio_id": "/data/a.wav", "dataset": "as_strong_train",
            "task": "cla_label", "output": "Speech"},
           {"instruction": "Why?", "input": "", "audio_id": "/data/b.wav", "dataset": "vggsound",
            "task": "open-ended question", "output": "Because."}]
    path = tmp_path / "ltu.json"
    path.write_text(json.dumps(ltu))
    records = read_records(path)
    assert [r.stage for r in records] == ["perception", "reasoning"]
    assert records[0].sound == ["/data/a.wav"] and records[0].id == "ltu-0"
