"""Transcript quality and speed per transcriber backend, and the no-speech gate, on a corpus split.

    alm bench transcripts                      # data/offline-corpus test split, every backend
    alm bench transcripts --limit 60 --out runs/bench/transcripts.json

For each backend (transformers: the fallback, and what alm-tiny was trained with; CTranslate2
int8 with its encoder where `alm.transcribe.ct2_encoder` puts it, PyTorch bfloat16 on CPUs with
native bfloat16; and CTranslate2 with its own int8 encoder) it transcribes every speech clip of the
split and scores corpus-level WER / CER against the reference transcripts (normalised as the eval
speech family does), timing each clip. It reads Whisper's no-speech probability of every clip and
reports, for several thresholds, the share of non-speech clips (sounds, music, tones) that would
still get a transcript and the share of speech clips that would lose theirs.

The last backend, `own-length-frames`, answers whether the transcriber could reuse the frames the model's
encoder already made (the model runs Whisper's encoder at each clip's own length, `WhisperAudioEncoder`) instead
of encoding a 30 s window again: CTranslate2's decoder reads those frames. Measured in session 52 (2-core AVX2
CPU, 40 spoken and 20 other clips of each split, gate 0.45): it withholds 21 of 40 transcripts of held-out
speech against 3 and its WER is 0.71 against 0.44 (first split: 17 against 6 withheld, WER 0.83 against 0.40).
Whisper's decoder needs the 30 s context it was trained on. Sharing one 30 s encoding does not pay on a CPU
either: PyTorch's float32 encoder took 2.4 s for 30 s, against 1.5 s for CTranslate2's int8 one plus 0.5 s for
the model's own 10 s. So each spoken clip is encoded twice, on purpose.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

from alm.audio.features import mel_windows
from alm.files import atomic_write_json
from alm.transcribe import WINDOW_SECONDS, Ct2Transcriber, Transcriber, import_ctranslate2

THRESHOLDS = (0.3, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9)
# "ctranslate2-int8-encoder": CTranslate2's own encoder; "own-length-frames": its decoder on the model's frames
BACKENDS = ("transformers", "ctranslate2", "ctranslate2-int8-encoder", "own-length-frames")


def corpus_clips(root: str, split: str) -> list[dict]:
    """The split's clips (one row each, from clips.jsonl): audio path, kind, reference transcript."""
    folder = Path(root)
    rows = [json.loads(line) for line in (folder / "clips.jsonl").read_text(encoding="utf-8").splitlines() if line]
    return [{"path": str(folder / r["audio"]), "kind": r["kind"], "transcript": r.get("transcript") or "",
             "language": r.get("language") or ""} for r in rows if r["split"] == split]


def make(backend: str, audio_base: str, threshold: float | None = None):
    if backend == "transformers":
        return Transcriber(audio_base, device="cpu", no_speech_threshold=threshold)
    if backend == "own-length-frames":
        return OwnLengthFrames(audio_base, threshold)
    encoder = "ctranslate2" if backend == "ctranslate2-int8-encoder" else "auto"
    return Ct2Transcriber(audio_base, device="cpu", no_speech_threshold=threshold, encoder=encoder)


class OwnLengthFrames(Ct2Transcriber):
    """CTranslate2's Whisper decoder (and its no-speech probability) on the frames of the encoder as the model runs
    it: each clip at its own length, float32, no 30 s padding (`alm.model.audio_encoder.WhisperAudioEncoder`)."""

    def __init__(self, audio_base: str, threshold: float | None = None):
        from transformers import WhisperForConditionalGeneration

        from alm.model.audio_encoder import WhisperAudioEncoder
        from alm.weights.resolve import resolve_base

        super().__init__(audio_base, device="cpu", no_speech_threshold=threshold, encoder="ctranslate2")
        base = resolve_base(audio_base)
        whisper = WhisperForConditionalGeneration.from_pretrained(base, dtype=torch.float32).model.encoder.eval()
        self.own_length = WhisperAudioEncoder(whisper.config, whisper)

    def _encode(self, chunk):
        if len(chunk) != 1:  # CTranslate2 reads no padding mask: one window at a time
            raise ValueError("own-length frames are decoded one window at a time")
        _, _, n, wave = chunk[0]
        mel = torch.from_numpy(mel_windows(wave[:n], WINDOW_SECONDS, self.feature_extractor)[0])[None]  # 1, M, Tm
        with torch.inference_mode():
            frames, _ = self.own_length(mel, torch.tensor([mel.shape[-1]]))  # 1, ceil(Tm / 2), C
        return import_ctranslate2().StorageView.from_array(frames.float().numpy().copy(order="C"))

    def transcribe_batch(self, waves, batch_size: int = 1):
        return super().transcribe_batch(waves, batch_size=1)

    def no_speech_probs(self, waves):
        return [p for wave in waves for p in super(OwnLengthFrames, self).no_speech_probs([wave])]


def gate_rates(probs: list[float], speech: list[bool]) -> list[dict]:
    """Per threshold: share of non-speech clips still transcribed, share of speech clips gated away."""
    out = []
    for t in THRESHOLDS:
        kept_non = [p <= t for p, s in zip(probs, speech) if not s]
        lost_speech = [p > t for p, s in zip(probs, speech) if s]
        out.append({"threshold": t,
                    "non_speech_still_transcribed": round(sum(kept_non) / max(1, len(kept_non)), 4),
                    "speech_losing_transcript": round(sum(lost_speech) / max(1, len(lost_speech)), 4)})
    return out


def run(root: str = "data/offline-corpus", split: str = "test", audio_base: str = "builtin:whisper-base",
        limit: int | None = None, backends: tuple[str, ...] = BACKENDS, out: Path | None = None) -> dict:
    from alm.audio import load_audio
    from eval.metrics.speech import normalize_transcript, speech_scores

    clips = corpus_clips(root, split)
    if limit:
        speech_rows = [c for c in clips if c["kind"] == "speech"][:limit]
        other = [c for c in clips if c["kind"] != "speech"][:limit]
        clips = speech_rows + other
    waves = [load_audio(c["path"]) for c in clips]
    is_speech = [c["kind"] == "speech" for c in clips]
    report: dict = {"split": split, "clips": len(clips), "speech_clips": sum(is_speech), "backends": {}}
    refs = [normalize_transcript(c["transcript"]) for c in clips if c["kind"] == "speech"]
    for backend in backends:
        transcriber = make(backend, audio_base)
        transcriber.transcribe(waves[0])  # warm-up
        hyps, seconds = [], []
        for wave, speech in zip(waves, is_speech):
            if not speech:
                continue
            start = time.perf_counter()
            hyps.append(transcriber.transcribe(wave))
            seconds.append(time.perf_counter() - start)
        scores = speech_scores(refs, [normalize_transcript(h) for h in hyps])
        probs = []
        for k in range(0, len(waves), 16):
            probs += transcriber.no_speech_probs(waves[k : k + 16])
        entry = {**{k: round(v, 4) for k, v in scores.items()},
                 "median_s_per_clip": round(statistics.median(seconds), 4),
                 "mean_s_per_clip": round(statistics.mean(seconds), 4),
                 "gate": gate_rates(probs, is_speech), "hypotheses": hyps}
        report["backends"][backend] = entry
        print(f"{backend:<24} WER {entry['wer']:.4f} CER {entry['cer']:.4f} exact {entry['exact_match']:.3f} "
              f"median {entry['median_s_per_clip']:.3f} s/clip", flush=True)
        del transcriber
    report["references"] = refs
    if out is not None:
        atomic_write_json(out, report)
    print_gate(report)
    return report


def print_gate(report: dict) -> None:
    for backend, entry in report["backends"].items():
        print(f"no-speech gate ({backend}): threshold, non-speech clips still transcribed, speech clips gated")
        for row in entry["gate"]:
            print(f"  {row['threshold']:.2f}  {row['non_speech_still_transcribed']:.3f}  "
                  f"{row['speech_losing_transcript']:.3f}")
