"""The one inference interface: `Assistant.answer`, `answer_batch` and `answer_stream`.

The CLI, the API server, the chat UI and evaluation all call these, so there is one code
path to make fast and correct.

`Assistant.load` makes that path fast by default (`fast=True`): the LoRA adapter is merged into
the LLM, weights are bfloat16 where the device runs it natively (`alm.devices.fast_dtype`),
transcripts come from CTranslate2 where it applies (`alm.transcribe.load_transcriber`), and
Llama-architecture LLMs decode through `alm.fast_llm.FastLlama` (CPU) or transformers' static
cache with a compiled decode step (CUDA). `fast=False` keeps the float32 peft-wrapped model and
transformers' `generate`: the reference path, and the "before" of `alm bench`.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from alm.checkpoints import DEFAULT_MODEL
from alm.conversation import Conversation
from alm.devices import AUTO
from alm.errors import AlmError
from alm.hashing import waveform_digest
from alm.loops import LoopGuard
from alm.model import AlmForConditionalGeneration
from alm.model.audio_tokens import SAMPLE_RATE, split_windows
from alm.processor import AlmProcessor, asked_text
from alm.transcribe import caching


@dataclass
class SamplingParams:
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0 -> greedy decoding
    top_p: float = 1.0
    stop: list[str] = field(default_factory=list)  # the answer is cut before the first of these
    seed: int | None = None  # makes sampling repeatable

    def validate(self) -> None:
        if self.max_new_tokens < 1:
            raise AlmError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise AlmError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise AlmError(f"top_p must be in (0, 1], got {self.top_p}")


@dataclass
class Answer:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of turn or a stop string) or "length"
    transcripts: list[str | None] | None = None


class _CountingStreamer(TextIteratorStreamer):
    """A text streamer that also counts the new tokens and notes whether an end-of-turn token came."""

    def __init__(self, tokenizer, end_ids: list[int], **kwargs):
        super().__init__(tokenizer, **kwargs)
        self.end_ids = set(end_ids)
        self.new_tokens = 0
        self.ended = False
        self._prompt_seen = False

    def put(self, value) -> None:
        if not self._prompt_seen:  # generate() first passes the prompt (empty here: the prompt is embeddings)
            self._prompt_seen = True
        else:
            ids = value.reshape(-1).tolist()
            self.new_tokens += len(ids)
            self.ended = self.ended or any(i in self.end_ids for i in ids)
        super().put(value)


class AnswerStream:
    """An iterator over the pieces of one answer as they are generated. Once it has ended (run out or
    closed early), `answer` holds the whole text, the real token counts and the finish reason."""

    def __init__(self, pieces: Iterator[str], finish):
        self._finish = finish  # (whole text) -> Answer
        self._gen = self._collect(pieces)
        self.answer: Answer | None = None

    def _collect(self, pieces) -> Iterator[str]:
        text = []
        try:
            for piece in pieces:
                text.append(piece)
                yield piece
        finally:
            pieces.close()  # stops generation if the consumer left early
            self.answer = self._finish("".join(text))

    def __iter__(self) -> "AnswerStream":
        return self

    def __next__(self) -> str:
        return next(self._gen)

    def close(self) -> None:
        self._gen.close()


class _Cancelled(StoppingCriteria):
    """Stops generate() once the consumer of a stream has what it wants (or went away)."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _Looping(StoppingCriteria):
    """Ends the rows of generate() that have fallen into a repetition loop (`alm.loops`)."""

    def __init__(self, guard: LoopGuard):
        self.guard = guard

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        return self.guard.update(input_ids[:, -1])


PROBS_KEPT = 256  # clips whose tagger probabilities an assistant keeps (`Assistant._clip_probabilities`)


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class Assistant:
    def __init__(self, model: AlmForConditionalGeneration, processor: AlmProcessor, transcriber=None,
                 decoder: str = "auto", audio_cache: int = 0):
        """`decoder`: "auto" (FastLlama where the LLM allows it, on CPU; static cache + compiled step on CUDA;
        else transformers' generate), "fast", "static" or "generate". `audio_cache`: encoder outputs of this many
        Whisper windows are kept (by the sha256 of their samples), so a clip sent again (batched copies of one
        clip, a chat's later turns) is not encoded again; 0 = none (then inputs go through `generate` as is). Models
        with a sound encoder or an instruction-aware aligner always take the processor's full inputs."""
        self.model = model.eval()
        self.processor = processor
        self.transcriber = caching(transcriber)  # each distinct clip transcribed once (later chat turns, eval)
        self._lock = threading.Lock()  # generate() and the RNG are not shared safely across threads
        if model.config.audio_token_id != processor.audio_token_id:
            raise AlmError(f"the model's audio token id ({model.config.audio_token_id}) is not the processor's "
                           f"({processor.audio_token_id}): they come from different checkpoints")
        self.eos_ids = processor.end_of_turn_ids
        self.decoder = choose_decoder(model, decoder)
        self._fast = None
        plain_audio = not processor.instruction_aware and getattr(model, "sound_encoder", None) is None
        self._frames = _FramesCache(audio_cache) if audio_cache and plain_audio else None
        self._probs: dict[str, torch.Tensor] = {}  # waveform digest -> (L,) tagger probabilities, the last clips'
        if self.decoder == "fast":
            from alm.fast_llm import FastLlama

            self._fast = FastLlama(model.language_model)

    @classmethod
    def load(cls, model: str = DEFAULT_MODEL, device: str = AUTO, dtype: torch.dtype | None = None,
             speech_transcripts: bool | None = None, quantization: str | None = None, fast: bool = True,
             transcriber: str = "auto", no_speech_threshold: float | None | str = "default",
             decoder: str = "auto") -> "Assistant":
        """`device`: "auto" = cuda, then mps, then cpu. `dtype`: None = bfloat16 where native (fast) or float32.
        `fast`: merge LoRA and take the fast decoders (see the module docstring); False = the reference path.
        `transcriber`: "auto" | "ctranslate2" | "transformers" (fast=False: transformers).
        `no_speech_threshold`: "default" = the model's gate (`alm.transcribe.model_gate`), None = no gate, or a value."""
        from alm.checkpoints import resolve_checkpoint
        from alm.devices import fast_dtype, resolve_device

        device = resolve_device(device)
        if dtype is None:
            dtype = fast_dtype(device) if fast and not quantization else torch.float32
        path = resolve_checkpoint(model)
        # Weights load in float32 so that LoRA merges at full precision; then the whole model takes `dtype`.
        alm = AlmForConditionalGeneration.from_pretrained(
            path, dtype=torch.float32 if fast and not quantization else dtype, quantization=quantization,
            device_map=None if quantization else device)
        if fast and not quantization:
            merge_lora(alm)
            alm.to(dtype)
        processor = AlmProcessor.from_pretrained(path)
        use_transcripts = alm.config.speech_transcripts if speech_transcripts is None else speech_transcripts
        speech = None
        if use_transcripts:
            from alm.transcribe import load_transcriber, model_gate

            if no_speech_threshold == "default":
                no_speech_threshold = model_gate(alm.config)
            speech = load_transcriber(alm.config.audio_base, device=device,
                                      backend=transcriber if fast else "transformers",
                                      no_speech_threshold=no_speech_threshold)
        return cls(alm, processor, speech, decoder=decoder if fast else "generate", audio_cache=128 if fast else 0)

    @property
    def trained(self) -> bool:
        return bool(self.model.config.trained)

    # ------------------------------------------------------------------ internals
    def with_transcripts(self, conv: Conversation, probs: torch.Tensor | None = None) -> Conversation:
        """The conversation with its clips' Whisper transcripts, if this assistant transcribes and it has none
        (`probs`: the clips' tagger probabilities when already computed, for the speech gate)."""
        if self.transcriber is None or conv.transcripts is not None:
            return conv
        return Conversation(conv.messages, conv.audios, self.transcribe(conv.audios, probs))

    def with_notes(self, conv: Conversation) -> Conversation:
        """`with_transcripts`, then the clips' sound tags (and, for a tagger with names, the probabilities of the
        sounds the prompt names) if the model reads them and the conversation has none. The tagger's probabilities
        are computed once, for the tags and the speech gate alike."""
        if not self.reads_tags or conv.tags is not None or not conv.audios:
            return self.with_transcripts(conv)
        probs = self._clip_probabilities(conv.audios)  # A, L
        conv = self.with_transcripts(conv, probs)
        tagger = self.model.tagger
        names = tagger.asked_names(self.asked_text(conv)) if tagger.asks else []
        asked = tagger.asked_tags(probs, names) if names else None
        return Conversation(conv.messages, conv.audios, conv.transcripts, tagger.top_tags(probs), asked)

    def asked_text(self, conv: Conversation) -> str:
        """The prompt text the tagger's asked sounds are found in (`alm.processor.asked_text`)."""
        self.processor.check_clips(conv)
        return asked_text(self.processor.render(conv.messages, add_generation_prompt=True),
                          self.model.config.system_prompt)

    @property
    def reads_tags(self) -> bool:
        return bool(self.model.config.sound_tags and self.model.tagger is not None)

    def tag(self, audios: list[np.ndarray]) -> list[list[tuple[str, float]]]:
        """The sound tagger's top labels (label, probability) of each clip."""
        return self.model.tagger.top_tags(self._clip_probabilities(audios))

    def _clip_probabilities(self, audios: list[np.ndarray]) -> torch.Tensor:
        """The sound tagger's (A, L) label probabilities of each clip, each distinct clip's computed once among the
        last `PROBS_KEPT` (by the sha256 of its samples): a caller that transcribes behind the speech gate and then
        adds the tags (`alm ask`, the server) does not run the encoders for them twice."""
        keys = [waveform_digest(w) for w in audios]
        todo = {k: w for k, w in zip(keys, audios) if k not in self._probs}
        if todo:
            self._probs.update(zip(todo, self._encode_probabilities(list(todo.values()))))
        found = torch.stack([self._probs[k] for k in keys])  # A, L
        for key in keys:  # most recently used last
            self._probs[key] = self._probs.pop(key)
        while len(self._probs) > PROBS_KEPT:
            self._probs.pop(next(iter(self._probs)))
        return found

    @torch.inference_mode()
    def _encode_probabilities(self, audios: list[np.ndarray]) -> torch.Tensor:
        """`_clip_probabilities` computed: from the model's own encoders (through the frames cache when there is
        one, so generation does not encode the clips again)."""
        if self._frames is not None:
            per_clip = [split_windows(wave, self.processor.spec.window_seconds) for wave in audios]
            _, lengths, stats = self._frames.frames([w for clip in per_clip for w in clip], self.model,
                                                    self.processor.feature_extractor)  # W; W, K, 2C
            return self.model.clip_probabilities(stats, lengths, [len(clip) for clip in per_clip])
        feats = self.processor.audio_features(audios)
        device = self.model.device
        sound = {k: feats[k].to(device) for k in ("sound_features", "sound_lengths") if k in feats}
        _, lengths, stats = self.model.encode_windows(feats["audio_mel"].to(device),
                                                      feats["audio_mel_lengths"].to(device), **sound,
                                                      tag_stats=True)  # W; W, K, 2C
        return self.model.clip_probabilities(stats, lengths, feats["audio_num_windows"].tolist())

    def _inputs(self, convs: list[Conversation]) -> dict:
        """Model inputs: the processor's batch; with the audio cache, token ids and the clips' raw Whisper windows
        instead of log-mel (`_generate` encodes only the windows it has not seen)."""
        if self._frames is None:
            batch = self.processor.batch(convs)
            return {k: v.to(self.model.device) for k, v in batch.items()}
        rows = []
        for conv in convs:
            self.processor.check_clips(conv)
            rows.append(self.processor.tokenize(conv, train=False)[0])
        length = max(len(r) for r in rows)
        ids = torch.full((len(rows), length), self.processor.tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), length), dtype=torch.long)
        for i, row in enumerate(rows):  # left-padded, as the processor pads for generation
            ids[i, length - len(row):] = torch.tensor(row)
            mask[i, length - len(row):] = 1
        windows = [w for conv in convs for wave in conv.audios
                   for w in split_windows(wave, self.processor.spec.window_seconds)]
        return {"input_ids": ids.to(self.model.device), "attention_mask": mask.to(self.model.device),
                "audio_windows": windows}

    def _embeds(self, inputs: dict) -> torch.Tensor:
        """(B, L, D) prompt embeddings with the audio tokens spliced in."""
        if "audio_windows" not in inputs:
            from alm.model.modeling import AUDIO_INPUTS

            audio = {k: v for k, v in inputs.items() if k in AUDIO_INPUTS}
            return self.model.embed_inputs(inputs["input_ids"], **audio)
        windows = inputs["audio_windows"]
        if not windows or self.model.config.aligner == "none":  # none: the clips are in the prompt as notes only
            return self.model.embed_inputs(inputs["input_ids"])
        frames, lengths, _ = self._frames.frames(windows, self.model, self.processor.feature_extractor)
        return self.model.embed_inputs(inputs["input_ids"], audio_frames=frames, audio_frame_lengths=lengths)

    def _generate(self, inputs: dict[str, torch.Tensor], kwargs: dict, guard: LoopGuard | None, streamer=None,
                  cancel: threading.Event | None = None) -> torch.Tensor:
        """New tokens (B, new) of one batched generation, through the chosen decoder; `guard` ends the rows that
        fall into a repetition loop (None: none is ended), `streamer` gets the tokens as they come (batch 1),
        `cancel` stops early."""
        if self._fast is None:
            extra = {}
            criteria = [_Looping(guard)] if guard is not None else []
            if cancel is not None:
                criteria.append(_Cancelled(cancel))
            if criteria:
                extra["stopping_criteria"] = StoppingCriteriaList(criteria)
            if streamer is not None:
                extra["streamer"] = streamer
            if self.decoder == "static":
                extra["cache_implementation"] = "static"
            if "audio_windows" not in inputs:
                return self.model.generate(**inputs, **kwargs, **extra)
            with torch.inference_mode():
                embeds = self._embeds(inputs)
            return self.model.language_model.generate(inputs_embeds=embeds, attention_mask=inputs["attention_mask"],
                                                      **kwargs, **extra)
        with torch.inference_mode():
            embeds = self._embeds(inputs)
            if streamer is not None:
                streamer.put(inputs["input_ids"][:, :0].cpu())  # as generate() does: the (empty) prompt first
            tokens = []
            for token in self._fast.generate(embeds, inputs["attention_mask"], kwargs["max_new_tokens"],
                                             self.eos_ids, do_sample=kwargs.get("do_sample", False),
                                             temperature=kwargs.get("temperature"), top_p=kwargs.get("top_p"),
                                             stop=cancel.is_set if cancel is not None else None,
                                             row_stop=guard.update if guard is not None else None):
                tokens.append(token)
                if streamer is not None:
                    streamer.put(token.cpu())
            if streamer is not None:
                streamer.end()
            return torch.stack(tokens, 1) if tokens else inputs["input_ids"][:, :0]

    def _generate_kwargs(self, params: SamplingParams) -> dict:
        params.validate()
        kwargs = dict(max_new_tokens=params.max_new_tokens, eos_token_id=self.eos_ids,
                      pad_token_id=self.processor.tokenizer.pad_token_id)
        if params.temperature > 0:
            kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

    # ------------------------------------------------------------------ public
    def answer_batch(self, conversations: list[Conversation], params: SamplingParams | None = None) -> list[Answer]:
        """Answer several conversations in one batched generate call. With greedy decoding, identical conversations
        (same messages, clips and transcripts) are answered once: their answers are equal anyway."""
        params = params or SamplingParams()
        convs = [self.with_notes(c) for c in conversations]
        if params.temperature == 0 and len(convs) > 1 and self._frames is not None:
            keys = [_conversation_key(c) for c in convs]
            unique = list(dict.fromkeys(keys))
            if len(unique) < len(convs):
                first = {k: convs[keys.index(k)] for k in unique}
                answers = dict(zip(unique, self.answer_batch([first[k] for k in unique], params)))
                return [dataclasses.replace(answers[k], transcripts=c.transcripts) for k, c in zip(keys, convs)]
        inputs = self._inputs(convs)
        kwargs = self._generate_kwargs(params)
        guard = LoopGuard(len(convs))
        with self._lock:
            if params.seed is not None:
                torch.manual_seed(params.seed)
            out = self._generate(inputs, kwargs, guard)  # B, new
        answers = []
        prompt_lengths = inputs["attention_mask"].sum(1).tolist()
        for row, conv, n_prompt, looped in zip(out, convs, prompt_lengths, guard.ended_at):
            ids = row.tolist()
            end = next((k for k, i in enumerate(ids) if i in self.eos_ids), len(ids))
            ended = end < len(ids) or looped is not None
            ids = ids[: end if looped is None else min(end, looped)]  # a loop's row pads after it (pad or end ids)
            text, stopped = cut_at_stop(self.processor.decode(ids), params.stop)
            answers.append(Answer(text.strip(), int(n_prompt), len(ids), "stop" if ended or stopped else "length",
                                  conv.transcripts))
        return answers

    def answer(self, messages: list[dict], audios: list[np.ndarray], params: SamplingParams | None = None,
               transcripts: list[str | None] | None = None) -> Answer:
        return self.answer_batch([Conversation(messages, audios, transcripts)], params)[0]

    def transcribe(self, audios: list[np.ndarray], probs: torch.Tensor | None = None) -> list[str]:
        """Each clip's Whisper transcript, behind Whisper's no-speech gate and, for a model whose tagger has a
        `speech_gate`, the tagger's (`SoundTagger.gated_transcripts`): a clip it does not hear speech in gets none ("")
        and is not decoded, unless the tagger's `speech_gate_words` may keep a long transcript. `probs`:
        the clips' (A, L) tagger probabilities, if the caller has them (else they are computed when the gate needs
        them)."""
        if self.transcriber is None:
            raise AlmError("this assistant was loaded without speech transcripts (speech_transcripts=False)")
        if not (self.reads_tags and self.model.tagger.settings.speech_gate and audios):
            return [self.transcriber.transcribe(w) for w in audios]
        heard = self.model.tagger.hears_speech(self._clip_probabilities(audios) if probs is None else probs)
        return self.model.tagger.gated_transcripts(audios, heard, self.transcriber.transcribe)

    def answer_stream(self, messages: list[dict], audios: list[np.ndarray], params: SamplingParams | None = None,
                      transcripts: list[str | None] | None = None) -> AnswerStream:
        """The answer in pieces as it is generated (cut at the first stop string); the returned stream's
        `answer` then holds the real token counts and finish reason.

        `transcripts` (one per clip) are used as given; if omitted and the assistant transcribes, it does so here.
        """
        params = params or SamplingParams()
        conv = self.with_notes(Conversation(messages, audios, transcripts))
        inputs = self._inputs([conv])
        kwargs = self._generate_kwargs(params)
        streamer = _CountingStreamer(self.processor.tokenizer, self.eos_ids, skip_prompt=True,
                                     skip_special_tokens=True, timeout=600)
        stopped = threading.Event()  # a stop string cut the answer

        def finish(text: str) -> Answer:
            ended = streamer.ended or stopped.is_set() or streamer.new_tokens < params.max_new_tokens
            completion = streamer.new_tokens - int(streamer.ended)  # the end-of-turn token is not part of the answer
            return Answer(text.strip(), int(inputs["attention_mask"].sum()), completion,
                          "stop" if ended else "length", conv.transcripts)

        return AnswerStream(self._stream(inputs, kwargs, streamer, params, stopped), finish)

    def _stream(self, inputs, kwargs, streamer, params: SamplingParams, stopped: threading.Event) -> Iterator[str]:
        """Run generate() in a thread and yield its text; closing this generator stops generation."""
        cancel = threading.Event()
        errors: list[BaseException] = []

        def run():
            try:
                with self._lock:
                    if params.seed is not None:
                        torch.manual_seed(params.seed)
                    self._generate(inputs, kwargs, LoopGuard(1), streamer=streamer, cancel=cancel)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer
                errors.append(exc)
                streamer.end()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        try:
            yield from self._stream_text(streamer, params.stop, stopped)
        finally:
            cancel.set()  # the streamer's queue is unbounded, so generate() ends at its next step
            thread.join()
        if errors:
            raise errors[0]

    @staticmethod
    def _stream_text(pieces, stop: list[str], stopped: threading.Event) -> Iterator[str]:
        """Re-chunk streamed text so nothing at or after a stop string is ever yielded (sets `stopped` then)."""
        emitted, buffer = 0, ""
        hold = max((len(s) for s in stop), default=0)  # text that may be the start of a stop string
        for piece in pieces:
            buffer += piece
            text, cut = cut_at_stop(buffer, stop)
            if cut:
                stopped.set()
                if len(text) > emitted:
                    yield text[emitted:]
                return
            if len(buffer) - hold > emitted:
                yield buffer[emitted : len(buffer) - hold]
                emitted = len(buffer) - hold
        if len(buffer) > emitted:
            yield buffer[emitted:]


DECODERS = ("auto", "fast", "static", "generate")


def choose_decoder(model, decoder: str = "auto") -> str:
    """Which decode path `Assistant` takes for this model (see `Assistant.__init__`)."""
    from alm.fast_llm import supports

    if decoder not in DECODERS:
        raise AlmError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
    llm = model.language_model
    if decoder == "fast" and not supports(llm):
        raise AlmError(f"decoder 'fast' needs a merged Llama-architecture LLM, not {type(llm).__name__}")
    if decoder != "auto":
        return decoder
    device = model.get_input_embeddings().weight.device
    if device.type == "cuda" and not _is_peft(llm):
        return "static"
    return "fast" if device.type == "cpu" and supports(llm) else "generate"


def _is_peft(llm) -> bool:
    from alm.model.trainable import is_lora_model

    return is_lora_model(llm)


def merge_lora(model: AlmForConditionalGeneration) -> None:
    """Fold the LoRA adapter into the LLM's weights (inference only: the model cannot train LoRA afterwards)."""
    if _is_peft(model.language_model):
        model.language_model = model.language_model.merge_and_unload()


class _FramesCache:
    """Whisper encoder outputs per window, by the sha256 of its samples: frames (T, C) and, for a model with a
    sound tagger, the window stats it reads (K, 2C), from the same pass; the oldest go past `size`."""

    def __init__(self, size: int):
        self.size = size
        self._entries: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def frames(self, windows: list[np.ndarray], model, extractor):
        """Windows -> encoder frames (W, T, C) zero-padded, lengths (W,) and the tagger's window stats (W, K, 2C)
        (None without a tagger), encoding the windows not cached (each distinct one once) in one batch."""
        from alm.audio.features import pad_windows

        keys = [waveform_digest(w) for w in windows]
        todo = {k: w for k, w in zip(keys, windows) if k not in self._entries}
        if todo:
            mels = [extractor(w, sampling_rate=SAMPLE_RATE, padding=False, truncation=False,  # as mel_windows does
                              return_tensors="np")["input_features"][0] for w in todo.values()]  # each M, Tm
            mel = pad_windows(mels).to(model.device)
            lengths = torch.tensor([m.shape[-1] for m in mels], device=model.device)
            encoded, encoded_lengths, stats = model.encode_windows(  # W, T, C; W, K, 2C
                mel, lengths, tag_stats=model.tagger is not None)
            for i, (key, n) in enumerate(zip(todo, encoded_lengths.tolist())):
                self._entries[key] = (encoded[i, :n].clone(), None if stats is None else stats[i].clone())
        found = [self._entries[k] for k in keys]
        for key in keys:  # most recently used last
            self._entries[key] = self._entries.pop(key)
        while len(self._entries) > max(self.size, len(set(keys))):
            self._entries.pop(next(iter(self._entries)))
        lengths = torch.tensor([f.shape[0] for f, _ in found], device=found[0][0].device)
        out = found[0][0].new_zeros(len(found), int(lengths.max()), found[0][0].shape[1])  # W, T, C
        for i, (f, _) in enumerate(found):
            out[i, : f.shape[0]] = f
        stats = None if found[0][1] is None else torch.stack([s for _, s in found])  # W, K, 2C
        return out, lengths, stats

    def clear(self) -> None:
        self._entries.clear()


def _conversation_key(conv: Conversation) -> str:
    """Equal for conversations that make the same prompt: messages, clips (by digest) and transcripts."""
    return json.dumps([conv.messages, [waveform_digest(w) for w in conv.audios], conv.transcripts], sort_keys=True,
                      default=str)
