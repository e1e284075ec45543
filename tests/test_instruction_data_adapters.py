"""Source adapters on tiny fake copies of each public set's layout (tests/assets/instruction_data)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from instruction_data.adapters import load_source
from instruction_data.adapters.debian import asterisk, tuxpaint
from instruction_data.adapters.debian.rcc import RccBundle
from instruction_data.errors import DataError

ASSETS = Path(__file__).parent / "assets" / "instruction_data"


def _load(kind: str, folder: str | None = None):
    clips = load_source(kind, ASSETS / (folder or kind))
    for clip in clips:
        assert Path(clip.recipe["path"]).is_file(), clip.recipe
    return {c.id: c for c in clips}


def test_esc50_folds_and_groups():
    clips = _load("esc50")
    assert clips["esc50-1-100032-a-0"].labels == ["dog"]
    assert clips["esc50-1-100032-a-0"].group == clips["esc50-1-100032-b-0"].group  # same source recording
    assert [clips[k].split_hint for k in sorted(clips)] == ["train", "test", "validation"]


def test_urbansound8k():
    clips = _load("urbansound8k")
    assert clips["us8k-100032-3-0-0"].labels == ["dog bark"]
    assert clips["us8k-100263-2-0-117"].split_hint == "test"


def test_audiocaps_merges_captions_and_accepts_y_prefix():
    clips = _load("audiocaps")
    assert len(clips["audiocaps-r1nicovtvkq"].captions) == 2
    assert clips["audiocaps-udgbjjwyaqe"].caption == "A dog barks"
    assert clips["audiocaps-7fmolulwong"].split_hint == "test"


def test_clotho_captions_and_aqa_majority():
    clips = _load("clotho")
    assert len(clips["clotho-rain"].captions) == 5 and clips["clotho-birds"].split_hint == "test"
    aqa = _load("clotho_aqa")["clotho_aqa-rain"]
    assert {q["question"]: q["answer"] for q in aqa.qa} == {"Is it raining?": "yes", "What is falling?": "rain"}
    assert aqa.group == clips["clotho-rain"].group  # same file -> same group, never in two splits


def test_fsd50k_labels_and_splits():
    clips = _load("fsd50k")
    assert clips["fsd50k-64760"].labels == ["electric guitar", "guitar", "music"]
    assert [clips[f"fsd50k-{k}"].split_hint for k in ("64760", "16399", "37199")] == ["train", "validation", "test"]


def test_vggsound_skips_rows_without_audio():
    clips = _load("vggsound")
    assert sorted(c.labels[0] for c in clips.values()) == ["people marching", "waterfall burbling"]


def test_speech_commands_transcripts_and_speaker_groups():
    clips = _load("speech_commands")
    assert len(clips) == 3  # background noise ignored
    yes = clips["speech_commands-yes-0b09edd3_nohash_0"]
    assert yes.transcript == "yes" and yes.split_hint == "validation" and yes.kind == "speech"
    assert clips["speech_commands-no-0a7c2a8d_nohash_1"].group == clips["speech_commands-yes-0a7c2a8d_nohash_0"].group


def test_folder_and_csv():
    assert sorted(c.labels[0] for c in _load("folder").values()) == ["cat", "dog"]
    clips = load_source("csv", ASSETS / "table" / "clips.csv")
    assert clips[0].labels == ["bell", "chime"] and clips[1].transcript == "hello there"
    assert [c.split_hint for c in clips] == ["train", "test"]


def test_missing_layout_names_the_expected_file(tmp_path):
    with pytest.raises(DataError, match="meta/esc50.csv"):
        load_source("esc50", tmp_path)
    with pytest.raises(DataError, match="needs a folder"):
        load_source("clotho")


def _wav(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(800, dtype=np.float32), 8000)


def test_tuxpaint_layout(tmp_path):
    birds = tmp_path / "animals" / "birds"
    birds.mkdir(parents=True)
    (birds / "crow.txt").write_text("A crow.\nfr.utf8=Un corbeau.\nde.utf8=Eine Krähe.\n")
    for name in ("crow.ogg", "crow_desc.ogg", "crow_desc_fr.ogg", "crow_desc_de.ogg"):
        _wav(birds / name)
    clips = {c.id: c for c in tuxpaint.load(tmp_path)}
    assert clips["tuxpaint-crow"].labels == ["crow", "bird", "animal"]
    assert clips["tuxpaint-crow_desc_fr"].transcript == "Un corbeau." and clips["tuxpaint-crow_desc_fr"].language == "French"
    assert "tuxpaint-crow_desc_de" not in clips  # German descriptions are not in the package's language list
    assert len({c.group for c in clips.values()}) == 1


def test_asterisk_layout(tmp_path):
    _wav(tmp_path / "sounds" / "digits" / "7.wav")
    _wav(tmp_path / "sounds" / "beep.wav")
    notes = tmp_path / "core-sounds-en.txt"
    notes.write_text("; header\ndigits/7: seven\nbeep: [this is a simple beep tone]\n")
    (clip,) = asterisk.load(tmp_path / "sounds", transcripts=notes)
    assert clip.transcript == "seven" and "woman" in clip.speaker


def _rcc(files: dict[str, tuple[bytes, bool]]) -> bytes:
    """A version-2 .rcc with one folder 'snd' holding `files` (name -> (data, zlib?))."""
    names, data, nodes = b"", b"", []

    def name(text: str) -> int:
        nonlocal names
        offset = len(names)
        names += struct.pack(">HI", len(text), 0) + text.encode("utf-16-be")
        return offset

    def node(name_off: int, flags: int, tail: bytes) -> bytes:
        return struct.pack(">IH", name_off, flags) + tail + b"\0" * 8

    items = sorted(files.items())
    nodes.append(node(0, 2, struct.pack(">II", 1, 1)))  # root: 1 child at index 1
    nodes.append(node(name("snd"), 2, struct.pack(">II", len(items), 2)))
    for fname, (payload, compress) in items:
        blob = struct.pack(">I", len(payload)) + zlib.compress(payload) if compress else payload
        nodes.append(node(name(fname), 1 if compress else 0, struct.pack(">HHI", 0, 0, len(data))))
        data += struct.pack(">I", len(blob)) + blob
    tree = b"".join(nodes)
    header_len = 20
    tree_off, data_off = header_len, header_len + len(tree)
    names_off = data_off + len(data)
    return b"qres" + struct.pack(">IIII", 2, tree_off, data_off, names_off) + tree + data + names


def test_rcc_reader(tmp_path):
    path = tmp_path / "x.rcc"
    path.write_bytes(_rcc({"a.ogg": (b"plain bytes", False), "b.wav": (b"squeezed" * 10, True)}))
    bundle = RccBundle(path)
    assert bundle.members() == ["/snd/a.ogg", "/snd/b.wav"]
    assert bundle.read("/snd/a.ogg") == b"plain bytes" and bundle.read("/snd/b.wav") == b"squeezed" * 10
    (tmp_path / "bad.rcc").write_bytes(b"nope")
    with pytest.raises(DataError, match="qres"):
        RccBundle(tmp_path / "bad.rcc")
