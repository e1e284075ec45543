"""`alm ask` end to end on the real offline weights, and its one-line errors for bad input."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "announcement.flac"
ASTERISK = Path("/usr/share/asterisk/sounds/en_US_f_Allison/demo-nogo.wav")
BEE = Path("/usr/share/tuxpaint/stamps/animals/insects/bee.ogg")  # tuxpaint-stamps-default: a bee's buzz, no voice


def alm(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "alm", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def test_ask_answers_about_a_real_clip():
    result = alm("ask", str(EXAMPLE), "What do you hear?", "--max-new-tokens", "24", "--timing")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip().split()) >= 2
    assert "[timing] load" in result.stderr
    assert "Traceback" not in result.stderr


def test_ask_with_two_clips_placed_in_the_text():
    result = alm("ask", str(EXAMPLE), str(EXAMPLE), "Compare <audio> with <audio>.", "--max-new-tokens", "8",
                 "--no-stream")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.skipif(not ASTERISK.exists(), reason="asterisk-core-sounds-en-wav is not installed")
def test_speech_aware_transcript():
    result = alm("ask", str(ASTERISK), "What is said?", "--show-transcript", "--max-new-tokens", "8")
    assert result.returncode == 0, result.stderr
    transcript = next(line for line in result.stderr.splitlines() if line.startswith("[transcript of"))
    # published text: "I am afraid I was unable to create a connection to the Digium demonstration Asterisk server..."
    for word in ("unable", "connection", "demonstration", "server", "console"):
        assert word in transcript.lower(), transcript


def test_show_notes_prints_what_the_llm_reads():
    """alm-tiny reads, after the clip's audio tokens, Whisper's transcript and its tagger's top labels, and for a
    sound the question names, that sound's probability and a verdict: --show-notes prints exactly that text."""
    result = alm("ask", str(EXAMPLE), "Is there a bell in this recording?", "--show-notes", "--max-new-tokens", "8",
                 "--no-stream")
    assert result.returncode == 0, result.stderr
    notes = next(line for line in result.stderr.splitlines() if line.startswith(f"[notes on {EXAMPLE}]"))
    assert '(speech transcript: "Good morning.' in notes, notes
    assert "(sound tags: speech " in notes and "; asked: bell 0." in notes, notes


@pytest.mark.skipif(not BEE.exists(), reason="tuxpaint-stamps-default is not installed")
def test_alm_tiny_gives_no_words_to_a_clip_its_tagger_hears_no_speech_in():
    """Whisper-base 'transcribes' Tux Paint's buzzing bee ("Thank you."); alm-tiny's tagger does not hear speech in
    it (its speech gate), so the LLM is given no transcript. Whisper's own no-speech probability for the bee sits at
    its gate of 0.45 (0.46-0.47 on session 48's CPU, under it on earlier ones), so the tagger's gate is checked on
    Whisper's words ungated."""
    from alm.audio import load_audio
    from alm.conversation import Conversation
    from alm.inference import Assistant
    from alm.transcribe import load_transcriber

    assistant = Assistant.load("alm-tiny")
    tagger = assistant.model.tagger
    assert tagger.settings.speech_gate
    wave = load_audio(BEE)
    whisper = load_transcriber(assistant.model.config.audio_base, no_speech_threshold=None)
    assert whisper.transcribe(wave).strip()  # Whisper alone gives the buzz words
    heard = tagger.hears_speech(assistant._clip_probabilities([wave]))
    assert not heard[0]
    assert tagger.gated_transcripts([wave], heard, whisper.transcribe) == [""]
    assert assistant.transcribe([wave]) == [""]
    conv = assistant.with_notes(Conversation([{"role": "user", "content": [
        {"type": "audio"}, {"type": "text", "text": "What is said?"}]}], [wave]))
    assert conv.transcripts == [""] and conv.tags is not None


def test_alm_tiny_repeats_what_is_said():
    """alm-tiny is speech-aware (trained with Whisper transcripts beside the audio): asked for the spoken words, it
    answers with the words; with --no-transcribe it has only the audio tokens to go on."""
    result = alm("ask", str(EXAMPLE), "Write down the spoken words.", "--max-new-tokens", "40", "--no-stream")
    assert result.returncode == 0, result.stderr
    # examples/announcement.flac says: "Good morning. The train to the airport leaves from platform four in ten minutes."
    answer = result.stdout.lower()
    assert sum(word in answer for word in ("morning", "train", "airport", "platform", "minutes")) >= 4, answer
    # Asked "What is being said?", the alm-tiny of session 57 stops at the first full stop ("Good morning."), which
    # the one before it did not on this clip; on the evaluations' ten multi-sentence transcripts both stop there on
    # most (word errors 86 against the earlier model's 99; training/README.md, "Session 57").
    first = alm("ask", str(EXAMPLE), "What is being said?", "--max-new-tokens", "40", "--no-stream")
    assert first.returncode == 0 and "good morning" in first.stdout.lower(), first.stdout + first.stderr
    plain = alm("ask", str(EXAMPLE), "What is being said?", "--max-new-tokens", "40", "--no-stream",
                "--no-transcribe")
    assert plain.returncode == 0, plain.stderr


def _zero_length(path: Path) -> None:
    sf.write(path, np.zeros(0, np.float32), 16_000, format="WAV")


def _too_long(path: Path) -> None:
    sf.write(path, np.zeros(16_000 * 601, np.float32), 16_000, format="FLAC")


@pytest.mark.parametrize(
    "name, make, message",
    [
        ("missing.wav", None, "no such file"),
        ("empty.wav", lambda p: p.write_bytes(b""), "the file is empty"),
        ("notes.wav", lambda p: p.write_text("not audio at all\n" * 100), "not a readable audio file"),
        ("corrupt.mp3", lambda p: p.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + os.urandom(3000)),
         "not a readable audio file"),
        ("zero.wav", _zero_length, "zero length"),
        ("long.flac", _too_long, "the maximum is 600 s"),
    ],
)
def test_bad_input_gives_one_error_line(tmp_path, name, make, message):
    path = tmp_path / name
    if make:
        make(path)
    result = alm("ask", str(path), "What do you hear?")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alm ask: error:") and message in lines[0], result.stderr
