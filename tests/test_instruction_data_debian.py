"""The new Debian sources' label rules on tiny generated copies of their layouts
(tests/assets/instruction_data/debian_layouts.py), the zip reader, the GM renderer's MIDI and plan,
and long-sentence planning."""

from __future__ import annotations

import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from instruction_data.adapters.debian import (
    archives,
    effects,
    games,
    hedgewars,
    hydrogen,
    kde_voices,
    megaglest,
    qabcs,
    sound_themes,
)
from instruction_data.build.render import RenderContext, render
from instruction_data.synth import gm
from instruction_data.synth.sentences import long_sentences
from instruction_data.synth.speech import plan_speech
from instruction_data.taxonomy import expand

sys.path.insert(0, str(Path(__file__).parent / "assets" / "instruction_data"))
import debian_layouts as fake


def _by_id(clips):
    ids = [c.id for c in clips]
    assert len(ids) == len(set(ids))
    return {c.id: c for c in clips}


def test_hedgewars_voices_transcripts_only_where_verified(tmp_path):
    clips = _by_id(hedgewars.load(fake.make_hedgewars(tmp_path)))
    classic, pirate = clips["hedgewars-classic-hello"], clips["hedgewars-pirate-hello"]
    assert classic.transcript == "Hello!" and classic.kind == "speech" and classic.origin == "hedgewars:Classic"
    assert pirate.transcript == "" and pirate.label == "speech" and "pirate" in pirate.speaker
    assert clips["hedgewars-classic-laugh"].labels == expand(["laughter"])
    assert clips["hedgewars-default_es-boring"].language == "Spanish"
    assert "hedgewars-classic-hmm" not in clips  # an unnamed vocal noise is left out
    assert clips["hedgewars-sounds_explosion"].labels[0] == "explosion"
    assert clips["hedgewars-music_theme"].labels == ["music"]
    assert not any("unknowable" in k for k in clips)


def test_megaglest_rules_dedupe_and_origins(tmp_path):
    clips = _by_id(megaglest.load(fake.make_megaglest(tmp_path)))
    rain = [c for c in clips.values() if c.label == "rain"]
    assert len(rain) == 1  # two tilesets ship the same file
    labels = {c.label for c in clips.values()}
    assert {"rain", "owl", "cow", "speech", "scream"} == labels
    die = next(c for c in clips.values() if c.label == "scream")
    assert die.origin == "megaglest:norsemen"
    speech = next(c for c in clips.values() if c.label == "speech")
    assert speech.kind == "speech" and speech.transcript == ""


def test_ktuberling_english_words_and_other_languages(tmp_path):
    clips = _by_id(kde_voices.load_ktuberling(fake.make_ktuberling(tmp_path)))
    assert clips["ktuberling-en-ball"].transcript == "ball"
    assert clips["ktuberling-en-moon_fallingstar"].transcript == "falling star"
    fr = clips["ktuberling-fr-patate_ballon"]
    assert fr.language == "French" and fr.transcript == "" and fr.caption == "A voice says a word in French."
    assert not any(k.startswith("ktuberling-id") for k in clips)  # borrowed English file not relabelled
    assert {c.origin for c in clips.values()} == {"ktuberling:en", "ktuberling:fr"}


def test_klettres_letters_and_syllables(tmp_path):
    clips = _by_id(kde_voices.load_klettres(fake.make_klettres(tmp_path)))
    assert len(clips) == 2  # a file listed twice is one clip
    assert clips["klettres-en-alpha-a"].transcript == "A"
    cs = clips["klettres-cs-syllab-ad-0"]
    assert cs.transcript == "ba" and cs.language == "Czech" and cs.caption == 'A voice says in Czech: "ba"'


def test_qabcs_noises_by_name_and_category_and_spoken_words(tmp_path):
    clips = _by_id(qabcs.load(fake.make_qabcs(tmp_path)))
    sounds = {c.id: c.labels for c in clips.values() if c.kind != "speech"}
    # a calf is a cow; a mouse among the toys is not an animal; a flag says nothing of its noise
    assert sounds == {"qabcs-dog": ["dog", "animal"], "qabcs-calf": expand(["cow"]),
                      "qabcs-clock": expand(["clock ticking"])}
    words = [c for c in clips.values() if c.kind == "speech"]
    # the dog listed twice is one clip; a word without a recording is none; en_gb inherits en's items and records
    # only the words it says otherwise
    assert sorted(c.id for c in words) == ["qabcs-de-animals-dog", "qabcs-en-animals-cat", "qabcs-en_gb-food-donut",
                                           "qabcs-ru-animals-stork"]
    assert clips["qabcs-en_gb-food-donut"].transcript == "doughnut"
    german = clips["qabcs-de-animals-dog"]
    assert german.transcript == "hund" and german.language == "German" and german.origin == "qabcs:de"
    russian = clips["qabcs-ru-animals-stork"]  # the id from the English name: the word is Cyrillic
    assert russian.transcript == "аист" and russian.caption == 'A voice says in Russian: "аист"'
    from instruction_data.adapters import DEBIAN
    from instruction_data.build.config import DEFAULT_SOURCES, OPTIONAL_SOURCES
    assert set(OPTIONAL_SOURCES) <= set(DEBIAN) and not set(OPTIONAL_SOURCES) & set(DEFAULT_SOURCES)


def test_zip_members_and_warzone_transcripts(tmp_path):
    container = fake.make_warzone(tmp_path)
    assert archives.audio_members(container)[0].filename == "audio/memressp/console/pcv342.wav"
    clips = _by_id(games.load_warzone(container))
    speech = [c for c in clips.values() if c.kind == "speech"]
    assert len([c for c in speech if c.transcript == "Power Generator Destroyed"]) == 1  # duplicate kept once
    assert {c.origin for c in speech} == {"warzone2100:announcer"}
    assert any(c.transcript == "" and "tut1" in c.id for c in speech)
    labels = {c.label for c in clips.values()}
    assert {"laughter", "explosion", "beep", "speech"} == labels
    clip = next(c for c in clips.values() if c.label == "explosion")
    rendered = render(clip, RenderContext(tmp_path / "corpus", {clip.id: clip}))
    assert rendered.audio.endswith(".wav") and 0.2 < rendered.duration < 0.4


def test_ufoai_rules(tmp_path):
    clips = games.load_ufoai(fake.make_ufoai(tmp_path))
    assert sorted(c.label for c in clips) == ["door open", "footsteps", "machine gun", "thunder"]
    assert all(c.recipe["op"] == "zip" for c in clips)


def test_small_game_packages(tmp_path):
    roots = fake.make_small_games(tmp_path)
    loaders = {"freedroidrpg": games.load_freedroid, "wesnoth": games.load_wesnoth,
               "lincity_ng": games.load_lincity, "minetest": games.load_minetest, "widelands": games.load_widelands}
    found = {name: sorted(c.label for c in loaders[name](root)) for name, root in roots.items()}
    assert found == {"freedroidrpg": ["glass breaking"], "wesnoth": ["wolf"], "lincity_ng": ["train"],
                     "minetest": ["door open", "footsteps"], "widelands": ["duck", "sheep"]}


def test_effects_named_recordings_windows_and_au_files(tmp_path):
    roots = fake.make_effects(tmp_path)
    found = {name: _by_id(effects.load(name, root)) for name, root in roots.items()}
    assert {k: sorted(c.label for c in v.values()) for k, v in found.items()} == {
        "scorched3d": ["dog bark", "rain", "rain"], "xemacs_sounds": ["cat", "dog bark"], "brainparty": ["cat"]}
    rain = [c for c in found["scorched3d"].values() if c.label == "rain"]  # 25.2 s: two windows of 10 s, one group
    assert [(c.recipe["start"], c.recipe["end"]) for c in rain] == [(0.0, 10.0), (10.0, 20.0)]
    assert {c.group for c in rain} == {rain[0].id} and rain[1].id == f"{rain[0].id}-1"
    cat = found["xemacs_sounds"]["xemacs_sounds-catmeow"]
    assert cat.recipe["path"].endswith(".au") and cat.licence.startswith("GPL") and cat.origin == "xemacs_sounds"
    rendered = render(cat, RenderContext(tmp_path / "corpus", {cat.id: cat}))
    assert 0.2 < rendered.duration < 0.4
    from instruction_data.adapters import DEBIAN_SOURCES
    assert DEBIAN_SOURCES["scorched3d"][1] == ("scorched3d-data",)
    from instruction_data.taxonomy import PARENT
    assert all(label in PARENT for p in effects.PACKAGES.values() for _, label, _ in p.rules)  # a taxonomy name


def test_sound_themes_label_by_event_name_and_skip_unnamed_sounds(tmp_path):
    roots = fake.make_sound_themes(tmp_path)
    yaru = sound_themes.load_yaru(roots["yaru"])
    assert {c.id: c.label for c in yaru} == {"yaru_sounds-bell": "bell", "yaru_sounds-complete": "notification chime",
                                             "yaru_sounds-dialog-error": "alert sound"}  # the bin's sound: unnamed
    deepin = {c.id: c.label for c in sound_themes.load_deepin(roots["deepin"])}
    assert deepin == {"deepin_sounds-camera-shutter": "camera shutter",
                      "deepin_sounds-screen-capture-complete": "notification chime",
                      "deepin_sounds-message": "notification chime"}
    oxygen = sound_themes.load_oxygen(roots["oxygen"])  # only the top-level Oxygen-* files, not the themes' folders
    assert sorted(c.label for c in oxygen) == ["alert sound", "notification chime", "ringtone"]
    assert {c.origin for c in yaru} == {"yaru_sounds"} and all("CC-BY-SA" in c.licence for c in yaru)


def test_hydrogen_drumkit_xml(tmp_path):
    clips = hydrogen.load(fake.make_hydrogen(tmp_path))
    assert sorted(c.label for c in clips) == ["bass drum", "bass drum", "hi-hat", "rimshot"]
    assert {c.origin for c in clips} == {"hydrogen:TinyKit"} and all("CC0" in c.licence for c in clips)
    assert clips[0].labels == expand(["bass drum"]) and "percussion" in clips[0].labels


def test_gm_midi_and_plan():
    batch = {"program": 40, "drums": False, "notes": [[69, 0.5, 1.0, 100], [72, 2.0, 0.5, 90]], "length": 3.5}
    data = gm.midi_bytes(batch)
    assert data[:4] == b"MThd" and struct.unpack(">HHH", data[8:14]) == (0, 1, 480)
    assert bytes([0xC0, 40]) in data and bytes([0x90, 69, 100]) in data and data.endswith(b"\xff\x2f\x00")
    if not gm.SOUNDFONT.is_file():
        pytest.skip("fluid-soundfont-gm not installed")
    clips = gm.plan_gm(0, per_program=3, per_drum=2)
    assert clips == gm.plan_gm(0, per_program=3, per_drum=2) or [c.id for c in clips] == [
        c.id for c in gm.plan_gm(0, per_program=3, per_drum=2)]
    violin = [c for c in clips if c.label == "violin"]
    assert violin and all(c.kind == "music" and "string instrument" in c.labels for c in violin)
    notes = [c for c in clips if c.pitch_hz]
    assert notes and all(27 < c.pitch_hz < 4200 for c in notes)
    drums = [c for c in clips if c.count is not None]
    assert {c.label for c in drums} >= {"bass drum", "cowbell", "triangle"}


@pytest.mark.skipif(shutil.which("fluidsynth") is None or not gm.SOUNDFONT.is_file(), reason="needs fluidsynth")
def test_gm_render_cuts_segments(tmp_path):
    clips = [c for c in gm.plan_gm(0, per_program=2, per_drum=1) if c.id.startswith("gm-p040")]
    ctx = RenderContext(tmp_path, {c.id: c for c in clips})
    out = [render(c, ctx) for c in clips]
    assert all(0.3 < c.duration < 6 for c in out) and len(list((tmp_path / "cache" / "gm").glob("*.npy"))) == 1


def test_long_sentences_and_voices():
    sentences = long_sentences(200, seed=3)
    assert sentences == long_sentences(200, seed=3) and len(set(sentences)) == 200
    assert all(8 <= len(s.split()) <= 30 for s in sentences)
    assert np.mean([len(s.split()) for s in sentences]) > 14
    clips = [c for c in plan_speech(0, 0, 0, 0, n_long=60) if c.id.startswith("speech-l")]
    assert len(clips) == 60 and len({(c.recipe["voice"], c.recipe["variant"]) for c in clips}) > 30
    assert all(c.transcript == c.recipe["text"] and c.origin == f"synth_speech:{c.recipe['voice']}" for c in clips)


@pytest.mark.integration
def test_piper_voice_runs_offline_and_is_deterministic():
    from instruction_data.synth import piper

    if not piper.available():
        pytest.skip("the Piper voice is not installed (alm data build installs it into $ALM_HOME/tools)")
    text = "The quick brown fox jumps over the lazy dog near the old stone bridge this morning."
    a, sr = piper.synthesize(text, 1.0)
    b, _ = piper.synthesize(text, 1.0)
    assert sr == 22050 and np.array_equal(a, b) and 2.0 < len(a) / sr < 8.0
