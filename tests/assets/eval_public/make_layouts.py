"""Regenerate the tiny fake copies of the public benchmarks' layouts used by tests/test_eval_public_*.py.

Run: python tests/assets/eval_public/make_layouts.py  (writes next to this file).
Each audio file is 0.1 s of a quiet 8 kHz tone; only the folder layouts and metadata matter.
Every set also names one clip that is not there, to test that missing audio is reported.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

HERE = Path(__file__).resolve().parent


def tone(path: Path, freq: float = 440.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(800) / 8000
    sf.write(str(path), (0.1 * np.sin(2 * np.pi * freq * t)).astype(np.float32), 8000, subtype="PCM_16")


def dump(path: Path, records: list[dict], lines: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in records) if lines else json.dumps(records, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")


def mmau() -> None:
    d = HERE / "mmau"
    base = {"dataset": "AudioSet", "split": "test-mini", "category": "Reasoning"}
    dump(d / "mmau-test-mini.json", [
        {**base, "id": "m1", "audio_id": "./test-mini-audios/m1.wav", "question": "Who is speaking?",
         "choices": ["Man", "Woman", "Child", "Robot"], "answer": "Man", "task": "speech",
         "sub-category": "Speaker Identification", "difficulty": "easy"},
        {**base, "id": "m2", "audio_id": "./test-mini-audios/m2.wav", "question": "What is the source?",
         "choices": ["A child", "A woman", "An adult man", "A teenager"], "answer": "A woman", "task": "sound",
         "sub-category": "Acoustic Source Inference", "difficulty": "medium", "category": ["Reasoning"]},
        {**base, "id": "m3", "audio_id": "./test-mini-audios/m3.wav", "question": "Which instrument leads?",
         "choices": ["Piano", "Violin"], "answer": "Violin", "task": "music",
         "sub-category": "Instrumentation", "difficulty": "hard"},
        {**base, "id": "gone", "audio_id": "./test-mini-audios/gone.wav", "question": "Missing?",
         "choices": ["yes", "no"], "answer": "no", "task": "sound", "sub-category": "x", "difficulty": "easy"},
    ])
    for name in ("m1", "m2", "m3"):
        tone(d / "test-mini-audios" / f"{name}.wav")


def mmar() -> None:
    d = HERE / "mmar"
    dump(d / "MMAR-meta.jsonl", [
        {"id": "r1", "audio_path": "./audio/r1.wav", "question": "Where was this recorded?",
         "choices": ["Open Grassland", "City Streets"], "answer": "Open Grassland", "modality": "music",
         "category": "Cultural Layer", "sub-category": "Professional Knowledge and Reasoning", "language": None},
        {"id": "r2", "audio_path": "./audio/r2.wav", "question": "How many speakers?",
         "choices": ["1", "2", "3", "4"], "answer": "3", "modality": "mix-sound-speech",
         "category": "Perception Layer", "sub-category": "Counting and Statistics", "language": "en"},
    ], lines=True)
    for name in ("r1", "r2"):
        tone(d / "audio" / f"{name}.wav")


def cmm() -> None:
    d = HERE / "cmm"
    audio = "inter-modality_spurious_correlation/audio-language/object-level/global_freq"
    probe = {"category": "inter-modality_spurious_correlation", "sub_category": "audio-language",
             "modality": "audio", "granularity": "object-level", "correlation_type": "global_frequency",
             "video_path": None}
    dump(d / "all_data_final_reorg.json", [  # JSON lines, as the authors' example file
        {**probe, "audio_path": f"./raw_files/{audio}/dog.wav", "answer": "yes",
         "question": "Did you hear dog barking in the audio? Answer with yes or no."},
        {**probe, "audio_path": f"./raw_files/{audio}/dog.wav", "answer": "no",
         "question": "Did you hear car horn in the audio? Answer with yes or no."},
        {**probe, "audio_path": f"./reorg_raw_files/{audio}/rain.wav", "answer": "yes", "granularity": "event-level",
         "question": "Did you hear rain falling in the audio? Answer with yes or no."},
        {**probe, "audio_path": f"./reorg_raw_files/{audio}/rain.wav", "answer": "no", "granularity": "event-level",
         "question": "Did you hear thunder in the audio? Answer with yes or no."},
        {**probe, "sub_category": "visual-language", "modality": "visual", "audio_path": None,
         "video_path": "./reorg_raw_files/x/tree.mp4", "answer": "yes",
         "question": "Did you see tree in the video? Answer with yes or no."},
        {**probe, "audio_path": f"./reorg_raw_files/{audio}/gone.wav", "answer": "yes",
         "question": "Did you hear birds in the audio? Answer with yes or no."},
    ], lines=True)
    tone(d / "reorg_raw_files" / audio / "dog.wav")
    tone(d / "reorg_raw_files" / audio / "rain.wav")


POPE_ROWS = [  # (entry_id, audio_index, prompt_text, object, label)
    (0, "Y7fmOlUlwoNg", "Is there a sound of wind in the audio?", "wind", "Yes"),
    (1, "Y7fmOlUlwoNg", "Does the audio contain the sound of piano?", "piano", "No"),
    (2, "YUDGBjjwyaqE", "Can you hear the sound of dog?", "dog", "Yes"),
    (3, "YUDGBjjwyaqE", "Can you detect the sound of cat?", "cat", "No"),
    (4, "Ygone0000000", "Have you noticed the sound of bell?", "bell", "No"),
]


def audiocaps_pope() -> None:
    d = HERE / "audiocaps_pope"
    for mode, folder in (("random", "AudioHallucination_AudioCaps-Random"),
                         ("adversarial", "AudioHallucination_AudioCaps-Adversarial-v2")):
        rows = [{"entry_id": e, "audio_index": a, "prompt_text": p, "object": o,
                 "attribute": "positive" if lab == "Yes" else "negative", "label": lab, "sampling": mode}
                for e, a, p, o, lab in POPE_ROWS]
        if mode == "random":  # as the Hugging Face snapshot holds it
            (d / folder / "data").mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(rows), d / folder / "data" / "test-00000-of-00001.parquet")
        else:  # an export as JSON lines
            dump(d / folder / "test.jsonl", rows, lines=True)
    tone(d / "audiocaps" / "Y7fmOlUlwoNg.wav")
    tone(d / "audiocaps" / "UDGBjjwyaqE.wav")  # without the leading Y


def air_bench() -> None:
    d = HERE / "air_bench_foundation"
    dump(d / "Foundation_meta.json", [
        {"path": "g1.wav", "question": "When does the dog bark?", "choice_a": "[0.0, 1.0]", "choice_b": "[2.0, 3.0]",
         "choice_c": "[4.0, 5.0]", "choice_d": "[6.0, 7.0]", "answer_gt": "[2.0, 3.0]", "task_name": "Audio_Grounding",
         "dataset_name": "AudioGrounding", "uniq_id": 1},
        {"path": "s1.wav", "question": "What is the gender of the speaker?", "choice_a": "male", "choice_b": "female",
         "answer_gt": "female", "task_name": "Speaker_Gender_Recognition", "dataset_name": "Common_voice",
         "uniq_id": 2},
        {"path": "s2.wav", "question": "What is the gender of the speaker?", "choice_a": "male", "choice_b": "female",
         "choice_c": None, "choice_d": None, "answer_gt": "male", "task_name": "Speaker_Gender_Recognition",
         "dataset_name": "Common_voice", "uniq_id": 3},
        {"path": "gone.wav", "question": "?", "choice_a": "x", "choice_b": "y", "answer_gt": "x",
         "task_name": "Speaker_Gender_Recognition", "dataset_name": "Common_voice", "uniq_id": 4},
    ])
    tone(d / "Audio_Grounding_AudioGrounding" / "g1.flac")  # the metadata says g1.wav; the release ships flac
    tone(d / "Speaker_Gender_Recognition_Common_voice" / "s1.wav")
    tone(d / "Speaker_Gender_Recognition_Common_voice" / "s2.wav")


def clotho_aqa() -> None:
    """The Clotho-AQA release's test CSV (three annotator rows per question) and audio_files/."""
    d = HERE / "clotho_aqa"
    rows = [("birds.wav", "Are birds singing?", "yes"), ("birds.wav", "Are birds singing?", "yes"),
            ("birds.wav", "Are birds singing?", "no"), ("birds.wav", "What animal is heard?", "birds"),
            ("birds.wav", "What animal is heard?", "bird"), ("birds.wav", "What animal is heard?", "birds"),
            ("engine.wav", "Is it raining?", "no"), ("engine.wav", "Is it raining?", "no"),
            ("engine.wav", "Is it raining?", "no"), ("engine.wav", "What is running?", "engine"),
            ("engine.wav", "What is running?", "engine"), ("engine.wav", "What is running?", "motor"),
            ("gone.wav", "Is it loud?", "yes"), ("gone.wav", "Is it loud?", "yes"), ("gone.wav", "Is it loud?", "yes")]
    d.mkdir(parents=True, exist_ok=True)
    (d / "clotho_aqa_test.csv").write_text("file_name,QuestionText,answer,confidence\n" + "".join(
        f"{f},{q},{a},yes\n" for f, q, a in rows), encoding="utf-8")
    tone(d / "audio_files" / "birds.wav", 880.0)
    tone(d / "audio_files" / "engine.wav", 110.0)


def main() -> None:
    mmau()
    mmar()
    cmm()
    audiocaps_pope()
    air_bench()
    clotho_aqa()


if __name__ == "__main__":
    main()
