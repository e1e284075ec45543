"""A teacher's own answers in place of the corpus's (training/teacher.py)."""

import json

import numpy as np
import pytest

from alm.inference import Answer
from instruction_data.schema import Record, Turn
from training.teacher import teacher_answers


def record(rid, task, output, history=()):
    return Record(id=rid, instruction=f"question {rid}?", output=output, sound=[f"/clips/{rid}.wav"], dataset="d",
                  task=task, stage="perception", history=list(history))


class FakeAssistant:
    """Answers "teacher says <question>"; a question naming "loop" runs to the token limit."""

    loads = 0

    @classmethod
    def load(cls, model, device="cpu"):
        cls.loads += 1
        return cls()

    def answer_batch(self, convs, params):
        out = []
        for conv in convs:
            question = conv.messages[0]["content"][-1]["text"]
            assert len(conv.audios) == 1 and conv.audios[0].dtype == np.float32
            cut = "loop" in question
            out.append(Answer(f"teacher says {question}", 5, params.max_new_tokens if cut else 3,
                              "length" if cut else "stop"))
        return out


@pytest.fixture
def fake_teacher(tmp_path, monkeypatch):
    import alm.audio.io
    import alm.inference

    folder = tmp_path / "teacher"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    FakeAssistant.loads = 0
    monkeypatch.setattr(alm.inference, "Assistant", FakeAssistant)
    monkeypatch.setattr(alm.audio.io, "load_audio", lambda path: np.zeros(160, dtype=np.float32))
    return str(folder)


def test_the_teachers_tasks_take_its_answers_and_the_rest_keep_the_corpus(tmp_path, fake_teacher):
    records = [record("a", "classification", "A dog."), record("b", "speech_content", "hello"),
               record("c", "caption", "Rain falls."), record("loop", "classification", "A cat."),
               record("d", "classification", "A cow.", history=[Turn("earlier?", "yes")]),
               record("a", "classification", "A dog.")]  # a weighted task repeats a record
    out, stats = teacher_answers(records, fake_teacher, ["classification", "caption"], tmp_path / "t.jsonl", "cpu",
                                 lambda _: None)
    assert [r.output for r in out] == ["teacher says question a?", "hello", "teacher says question c?", "A cat.",
                                       "A cow.", "teacher says question a?"]
    assert (stats.answered, stats.cached, stats.changed) == (3, 0, 2)
    assert stats.kept == 2  # the cut answer and the record with an earlier turn
    assert len((tmp_path / "t.jsonl").read_text().splitlines()) == 3


def test_answers_written_before_are_read_back_without_loading_the_teacher(tmp_path, fake_teacher):
    records = [record("a", "classification", "A dog."), record("c", "caption", "Rain falls.")]
    path = tmp_path / "t.jsonl"
    teacher_answers(records, fake_teacher, ["classification", "caption"], path, "cpu", lambda _: None)
    with path.open("a") as fh:
        fh.write('{"key": "torn')  # an interrupted run's last line
    out, stats = teacher_answers(records, fake_teacher, ["classification", "caption"], path, "cpu", lambda _: None)
    assert FakeAssistant.loads == 1 and stats.cached == 2
    assert [r.output for r in out] == ["teacher says question a?", "teacher says question c?"]
    assert all(json.loads(line)["id"] in {"a", "c"} for line in path.read_text().splitlines()[:2])


def test_a_stage_with_no_record_of_the_teachers_tasks_is_told_so_in_one_line(tmp_path, fake_teacher):
    from alm.errors import AlmError

    with pytest.raises(AlmError, match="no selected single-question record is of caption"):
        teacher_answers([record("b", "speech_content", "hello")], fake_teacher, ["caption"], tmp_path / "t.jsonl",
                        "cpu", lambda _: None)
    assert FakeAssistant.loads == 0
