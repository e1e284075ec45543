"""The one inference interface: `Assistant.answer`, `answer_batch` and `answer_stream`.

The CLI, the API server, the chat UI and evaluation all call these, so there is one code
path to make fast and correct.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from alm.checkpoints import DEFAULT_MODEL
from alm.conversation import Conversation
from alm.errors import AlmError
from alm.model import AlmForConditionalGeneration
from alm.processor import AlmProcessor


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


def cut_at_stop(text: str, stop: list[str]) -> tuple[str, bool]:
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


class Assistant:
    def __init__(self, model: AlmForConditionalGeneration, processor: AlmProcessor, transcriber=None):
        self.model = model.eval()
        self.processor = processor
        self.transcriber = transcriber
        self._lock = threading.Lock()  # generate() and the RNG are not shared safely across threads
        if model.config.audio_token_id != processor.audio_token_id:
            raise AlmError(f"the model's audio token id ({model.config.audio_token_id}) is not the processor's "
                           f"({processor.audio_token_id}): they come from different checkpoints")
        self.eos_ids = processor.end_of_turn_ids

    @classmethod
    def load(cls, model: str = DEFAULT_MODEL, device: str = "cpu", dtype: torch.dtype = torch.float32,
             speech_transcripts: bool | None = None, quantization: str | None = None) -> "Assistant":
        from alm.checkpoints import resolve_checkpoint

        path = resolve_checkpoint(model)
        alm = AlmForConditionalGeneration.from_pretrained(
            path, dtype=dtype, quantization=quantization, device_map=None if quantization else device)
        processor = AlmProcessor.from_pretrained(path)
        use_transcripts = alm.config.speech_transcripts if speech_transcripts is None else speech_transcripts
        transcriber = None
        if use_transcripts:
            from alm.transcribe import Transcriber

            transcriber = Transcriber(alm.config.audio_base, device=device)
        return cls(alm, processor, transcriber)

    @property
    def trained(self) -> bool:
        return bool(self.model.config.trained)

    # ------------------------------------------------------------------ internals
    def with_transcripts(self, conv: Conversation) -> Conversation:
        """The conversation with its clips' Whisper transcripts, if this assistant transcribes and it has none."""
        if self.transcriber is None or conv.transcripts is not None:
            return conv
        return Conversation(conv.messages, conv.audios, self.transcribe(conv.audios))

    def _inputs(self, convs: list[Conversation]) -> dict[str, torch.Tensor]:
        batch = self.processor.batch(convs)
        return {k: v.to(self.model.device) for k, v in batch.items()}

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
        """Answer several conversations in one batched generate call."""
        params = params or SamplingParams()
        convs = [self.with_transcripts(c) for c in conversations]
        inputs = self._inputs(convs)
        kwargs = self._generate_kwargs(params)
        with self._lock:
            if params.seed is not None:
                torch.manual_seed(params.seed)
            out = self.model.generate(**inputs, **kwargs)  # B, new
        answers = []
        prompt_lengths = inputs["attention_mask"].sum(1).tolist()
        for row, conv, n_prompt in zip(out, convs, prompt_lengths):
            ids = row.tolist()
            ended = any(i in self.eos_ids for i in ids)
            ids = [i for i in ids[: next((k for k, i in enumerate(ids) if i in self.eos_ids), len(ids))]]
            text, stopped = cut_at_stop(self.processor.decode(ids), params.stop)
            answers.append(Answer(text.strip(), int(n_prompt), len(ids), "stop" if ended or stopped else "length",
                                  conv.transcripts))
        return answers

    def answer(self, messages: list[dict], audios: list[np.ndarray], params: SamplingParams | None = None,
               transcripts: list[str | None] | None = None) -> Answer:
        return self.answer_batch([Conversation(messages, audios, transcripts)], params)[0]

    def transcribe(self, audios: list[np.ndarray]) -> list[str]:
        if self.transcriber is None:
            raise AlmError("this assistant was loaded without speech transcripts (speech_transcripts=False)")
        return [self.transcriber.transcribe(w) for w in audios]

    def answer_stream(self, messages: list[dict], audios: list[np.ndarray], params: SamplingParams | None = None,
                      transcripts: list[str | None] | None = None) -> AnswerStream:
        """The answer in pieces as it is generated (cut at the first stop string); the returned stream's
        `answer` then holds the real token counts and finish reason.

        `transcripts` (one per clip) are used as given; if omitted and the assistant transcribes, it does so here.
        """
        params = params or SamplingParams()
        conv = self.with_transcripts(Conversation(messages, audios, transcripts))
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
        kwargs["stopping_criteria"] = StoppingCriteriaList([_Cancelled(cancel)])
        errors: list[BaseException] = []

        def run():
            try:
                with self._lock:
                    if params.seed is not None:
                        torch.manual_seed(params.seed)
                    self.model.generate(**inputs, streamer=streamer, **kwargs)
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
