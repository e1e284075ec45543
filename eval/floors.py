"""Floors made without the LLM, added to a benchmark's scores after its answers are scored.

- classification (offline corpus): the encoder probe (`eval.probe`), system `probe`;
- speech: Whisper's own transcripts of the same clips, system `asr`, the share of the split's
  non-speech clips that the model's transcriber gives a transcript (`eval.asr`), and whether the
  answers copy the transcripts that transcriber gives the speech clips (`eval.copying`).

The encoder and the Whisper are loaded on first use and their outputs cached under OUT/cache, so a
rerun costs nothing. Whatever cannot be made (an endpoint has no transcriber to ask, the corpus has
no training clips of the classes, a base that does not load) is reported as unavailable, with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alm.errors import AlmError
from eval import asr
from eval.data import BenchmarkData
from eval.encoder_features import PooledFeatures
from eval.probe import ProbeSettings, add_probe, run_probe
from eval.registry import Benchmark
from eval.runners import AnswerCache
from eval.scored import ASR, PROBE, Scored

NON_SPEECH = "non_speech"  # the key of the non-speech transcript rate (breakdown, unavailable)
COPYING = "copying"        # the key of the transcripts the model read and whether it copied them


@dataclass
class FloorSettings:
    probe: ProbeSettings | None = None  # the encoder probe (classification); None = none
    asr: str | None = None              # the Whisper whose own transcripts are the speech floor; None = none
    non_speech: bool = True             # transcribe non-speech clips with the model's transcriber (local only)
    copying: bool = True                # transcribe speech clips with it: did the answers copy them? (local only)
    device: str = "cpu"

    def record(self) -> dict[str, Any]:
        return {"probe": vars(self.probe) if self.probe else None, "asr": self.asr, "non_speech": self.non_speech,
                "copying": self.copying}


class Floors:
    def __init__(self, settings: FloorSettings, model_transcriber, cache_dir: Path, limit: int | None = None,
                 progress: bool = True) -> None:
        """`model_transcriber`: the evaluated model's own (`Runner.transcriber`), None when it has none to ask."""
        self.settings, self.model_transcriber, self.limit, self.progress = settings, model_transcriber, limit, progress
        self.cache_dir = Path(cache_dir)
        probe = settings.probe
        self.features = (PooledFeatures(probe.encoder, self.cache_dir, probe.device, probe.batch_size, progress)
                         if probe else None)
        self.transcripts = AnswerCache(self.cache_dir / "transcripts.jsonl")
        self._transcribers: dict[tuple[str, float | None], Any] = {}

    def add(self, bench: Benchmark, data: BenchmarkData, scored: Scored) -> dict[str, str]:
        """Add the floors that apply to `scored`; returns {floor: why it is unavailable}."""
        unavailable: dict[str, str] = {}
        if bench.family == "classification" and self.features is not None:
            self._probe(bench, data, scored, unavailable)
        if bench.family == "speech":
            if self.settings.asr:
                self._asr(bench, data, scored, unavailable)
            if self.settings.non_speech:
                self._non_speech(bench, data, scored, unavailable)
            if self.settings.copying:
                self._copying(bench, data, scored, unavailable)
        return unavailable

    # ------------------------------------------------------------------ classification
    def _probe(self, bench: Benchmark, data: BenchmarkData, scored: Scored, unavailable: dict[str, str]) -> None:
        if data.corpus is None:
            unavailable[PROBE] = "the probe is fit on the offline corpus's training split; this set has none here"
            return
        try:
            result = run_probe(bench, data, self.features, self.settings.probe)
        except AlmError as exc:
            unavailable[PROBE] = str(exc)
            return
        if isinstance(result, str):
            unavailable[PROBE] = result
        else:
            add_probe(scored, result, self.settings.probe)

    # ------------------------------------------------------------------ speech
    def _transcriber(self, audio_base: str, gate: float | None, backend: str = "auto"):
        key = (audio_base, gate)
        if key not in self._transcribers:
            from alm.transcribe import load_transcriber

            self._transcribers[key] = load_transcriber(audio_base, device=self.settings.device, backend=backend,
                                                       no_speech_threshold=gate)
        return self._transcribers[key]

    def _asr(self, bench: Benchmark, data: BenchmarkData, scored: Scored, unavailable: dict[str, str]) -> None:
        """Whisper's transcripts scored as the model's answers are, but read whole (a transcript quotes no one)."""
        from eval.families import group_scores
        from eval.metrics.collapse import top_share
        from eval.metrics.speech import item_scores, normalize_transcript, speech_scores

        try:
            whisper = self._transcriber(self.settings.asr, None)
            texts = asr.transcribe(whisper, [tuple(it.audio) for it in data.items], self.transcripts,
                                   f"{bench.name} [{self.settings.asr} transcripts]", self.progress)
        except AlmError as exc:
            unavailable[ASR] = str(exc)
            return
        refs = [normalize_transcript(it.reference["transcript"]) for it in data.items]
        hyps = [normalize_transcript(t) for t in texts]
        scored.scores[ASR] = {**speech_scores(refs, hyps), "top_answer_share": top_share(hyps)[1]}
        scored.baselines[ASR] = (f"{self.settings.asr}'s own transcript of each clip ({whisper.backend}, no "
                                 f"no-speech gate), scored as the model's answers")
        groups = {"per_language": [it.reference.get("language") or "unknown" for it in data.items],
                  "per_origin": [it.info.get("origin") or "unknown" for it in data.items]}
        for key, values in groups.items():
            if key in scored.breakdown:
                scored.breakdown[key][ASR] = group_scores(values, refs, hyps)
        for row, text, ref, hyp in zip(scored.items, texts, refs, hyps):
            one = item_scores(ref, hyp)
            row[ASR] = {"answer": text, "read": hyp, "wer": one["wer"], "words": len(ref.split()),
                        "correct": bool(one["exact_match"])}

    def _copying(self, bench: Benchmark, data: BenchmarkData, scored: Scored, unavailable: dict[str, str]) -> None:
        """The transcripts the model read of the speech clips, and whether its answers copied them."""
        from eval.copying import add_copying
        from eval.metrics.speech import normalize_transcript

        if self.model_transcriber is None:
            unavailable[COPYING] = ("the evaluated model has no transcriber to ask here (an endpoint, or a model "
                                    "without speech transcripts)")
            return
        try:
            texts = asr.transcribe(self.model_transcriber, [tuple(it.audio) for it in data.items], self.transcripts,
                                   f"{bench.name} [the model's transcripts]", self.progress)
        except AlmError as exc:
            unavailable[COPYING] = str(exc)
            return
        refs = [normalize_transcript(it.reference["transcript"]) for it in data.items]
        add_copying(scored, refs, texts, asr.describe(self.model_transcriber))

    def _non_speech(self, bench: Benchmark, data: BenchmarkData, scored: Scored,
                    unavailable: dict[str, str]) -> None:
        from alm.transcribe import NO_SPEECH_THRESHOLD

        if self.model_transcriber is None:
            unavailable[NON_SPEECH] = ("the evaluated model has no transcriber to ask here (an endpoint, or a model "
                                       "without speech transcripts)")
            return
        if not data.non_speech:
            unavailable[NON_SPEECH] = "the corpus's clip table (clips.jsonl) has no clip of this split without speech"
            return
        clips = [(c,) for c in asr.sample(data.non_speech, self.limit, bench.seed)]
        model = self.model_transcriber
        out: dict[str, Any] = {}
        try:
            texts = asr.transcribe(model, clips, self.transcripts, f"{bench.name} [non-speech clips]", self.progress)
            out["as_loaded"] = asr.non_speech_rate(texts, model)
            if model.no_speech_threshold is None:
                gated = self._transcriber(str(model.audio_base), NO_SPEECH_THRESHOLD, model.backend)
                texts = asr.transcribe(gated, clips, self.transcripts, f"{bench.name} [non-speech clips, gated]",
                                       self.progress)
                out["gated"] = asr.non_speech_rate(texts, gated)
        except AlmError as exc:
            unavailable[NON_SPEECH] = str(exc)
        if out:
            out["of"] = len(data.non_speech)
            scored.breakdown[NON_SPEECH] = out
