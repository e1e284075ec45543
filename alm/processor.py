"""`AlmProcessor`: conversations with audio -> model inputs.

A conversation is a list of messages `{"role": "system"|"user"|"assistant", "content": str}`;
each `<audio>` in a user message stands for the next clip in `audios` (16 kHz mono float32).
The processor renders the LLM's own chat template, replaces each placeholder with exactly
`num_audio_tokens(clip)` audio tokens, and cuts each clip into Whisper windows of log-mel.
For training it also builds labels that keep only the assistant's tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, WhisperFeatureExtractor

from alm.audio.features import mel_windows
from alm.errors import AlmError, AudioError
from alm.model.audio_tokens import SAMPLE_RATE, num_audio_tokens

PLACEHOLDER = "<audio>"
IGNORE_INDEX = -100


def check_clip(wave: np.ndarray, config, name: str) -> None:
    """A clip must be non-empty 16 kHz mono and no longer than `config.max_audio_seconds`."""
    if wave.ndim != 1 or len(wave) == 0:
        raise AudioError(f"{name}: expected non-empty 16 kHz mono audio")
    if len(wave) > config.max_audio_seconds * SAMPLE_RATE:
        raise AudioError(f"{name} is {len(wave) / SAMPLE_RATE:.1f} s long; the maximum is "
                         f"{config.max_audio_seconds:g} s (max_audio_seconds)")


def transcript_text(transcript: str) -> str:
    """What follows a clip's audio tokens in a speech-aware prompt (the vLLM plugin uses the same words)."""
    return f' (speech transcript: "{transcript.strip()}")'


@dataclass
class Conversation:
    messages: list[dict]
    audios: list[np.ndarray] = field(default_factory=list)
    transcripts: list[str | None] | None = None  # one per clip, given to the LLM beside the audio


class AlmProcessor:
    def __init__(self, tokenizer, config):
        self.config = config
        self.tokenizer = tokenizer
        if config.audio_token not in tokenizer.get_vocab():
            tokenizer.add_tokens([config.audio_token], special_tokens=True)
        config.audio_token_id = tokenizer.convert_tokens_to_ids(config.audio_token)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.feature_extractor = WhisperFeatureExtractor(feature_size=config.audio_config.num_mel_bins)

    @classmethod
    def from_pretrained(cls, config, checkpoint: str | Path | None = None):
        """Tokenizer from the checkpoint folder if it has one, else from the config's text base."""
        source = checkpoint if checkpoint and (Path(checkpoint) / "tokenizer_config.json").exists() else None
        if source is None:
            from alm.weights import resolve_base

            source = resolve_base(config.text_base)
        return cls(AutoTokenizer.from_pretrained(str(source)), config)

    # ------------------------------------------------------------------ text
    def _with_system(self, messages: list[dict]) -> list[dict]:
        if messages and messages[0]["role"] == "system":
            return messages
        return [{"role": "system", "content": self.config.system_prompt}, *messages]

    def _render(self, messages: list[dict], add_generation_prompt: bool) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    def check_clips(self, conv: Conversation) -> None:
        placeholders = sum(str(m["content"]).count(PLACEHOLDER) for m in conv.messages)
        if placeholders != len(conv.audios):
            raise AlmError(f"the conversation has {placeholders} {PLACEHOLDER} placeholder(s) but {len(conv.audios)} clip(s)")
        if any(PLACEHOLDER in str(m["content"]) for m in conv.messages if m["role"] != "user"):
            raise AlmError(f"audio ({PLACEHOLDER}) may only appear in user messages")
        for i, wave in enumerate(conv.audios):
            check_clip(wave, self.config, f"clip {i + 1}")

    def _expand(self, text: str, conv: Conversation) -> str:
        """Replace the i-th placeholder with clip i's audio tokens (and its transcript, if any)."""
        pieces = text.split(PLACEHOLDER)
        if len(pieces) != len(conv.audios) + 1:
            raise AlmError(f"the chat template produced {len(pieces) - 1} placeholders for {len(conv.audios)} clips")
        out = [pieces[0]]
        for i, wave in enumerate(conv.audios):
            out.append(self.config.audio_token * num_audio_tokens(len(wave), self.config))
            transcript = conv.transcripts[i] if conv.transcripts else None
            if transcript is not None:
                out.append(transcript_text(transcript))
            out.append(pieces[i + 1])
        return "".join(out)

    def tokenize(self, conv: Conversation, train: bool, add_generation_prompt: bool = True):
        """-> (input_ids list, labels list or None)."""
        messages = self._with_system(conv.messages)
        full = self._render(messages, add_generation_prompt=add_generation_prompt and not train)
        spans = []  # char spans of assistant replies (incl. end-of-turn) in `full`
        if train:
            for k, msg in enumerate(messages):
                if msg["role"] != "assistant":
                    continue
                start = len(self._render(messages[:k], add_generation_prompt=True))
                end = len(self._render(messages[: k + 1], add_generation_prompt=False))
                if full[:end] != self._render(messages[: k + 1], add_generation_prompt=False):
                    raise AlmError("the chat template does not render conversations as prefixes; cannot mask labels")
                spans.append((start, end))
            if not spans:
                raise AlmError("a training conversation needs at least one assistant message")
        # Expand placeholders piece by piece so the spans can be shifted to the expanded text.
        expanded = self._expand(full, conv)
        if not train:
            return self.tokenizer(expanded, add_special_tokens=False)["input_ids"], None
        shift_spans = []
        for start, end in spans:
            shift = len(self._expand_prefix(full[:start], conv)) - start
            shift_spans.append((start + shift, end + shift))
        enc = self.tokenizer(expanded, add_special_tokens=False, return_offsets_mapping=True)
        labels = [
            tok if any(s <= a < e for s, e in shift_spans) else IGNORE_INDEX
            for tok, (a, _b) in zip(enc["input_ids"], enc["offset_mapping"])
        ]
        return enc["input_ids"], labels

    def _expand_prefix(self, prefix: str, conv: Conversation) -> str:
        n = prefix.count(PLACEHOLDER)
        sub = Conversation(conv.messages, conv.audios[:n], conv.transcripts[:n] if conv.transcripts else None)
        return self._expand(prefix, sub)

    # ------------------------------------------------------------------ audio
    def _instruction_text(self, conv: Conversation) -> list[str]:
        """For each clip, the text of the user message it appears in (placeholders removed)."""
        texts = []
        for msg in conv.messages:
            count = str(msg["content"]).count(PLACEHOLDER)
            texts += [str(msg["content"]).replace(PLACEHOLDER, " ").strip()] * count
        return texts

    # ------------------------------------------------------------------ batch
    def __call__(self, conversations: list[Conversation], train: bool = False,
                 add_generation_prompt: bool = True) -> dict[str, torch.Tensor]:
        ids, labels, mels, instructions = [], [], [], []
        for conv in conversations:
            self.check_clips(conv)
            conv_ids, conv_labels = self.tokenize(conv, train, add_generation_prompt)
            ids.append(conv_ids)
            labels.append(conv_labels)
            for wave, text in zip(conv.audios, self._instruction_text(conv)):
                windows = mel_windows(wave, self.config.window_seconds, self.feature_extractor)
                mels += windows
                instructions += [text] * len(windows)
        batch = self._pad_text(ids, labels if train else None, left=not train)
        if mels:
            lengths = [m.shape[-1] for m in mels]
            audio = np.zeros((len(mels), mels[0].shape[0], max(lengths)), dtype=np.float32)  # W, M, Tm
            for i, m in enumerate(mels):
                audio[i, :, : m.shape[-1]] = m
            batch["audio_mel"] = torch.from_numpy(audio)
            batch["audio_mel_lengths"] = torch.tensor(lengths)
            if self.config.instruction_aware:
                enc = self.tokenizer(instructions, add_special_tokens=False, padding=True, return_tensors="pt")
                batch["instruction_ids"] = enc["input_ids"]
                batch["instruction_mask"] = enc["attention_mask"]
        return batch

    def _pad_text(self, ids, labels, left: bool) -> dict[str, torch.Tensor]:
        length = max(len(x) for x in ids)
        pad_id = self.tokenizer.pad_token_id
        input_ids = torch.full((len(ids), length), pad_id, dtype=torch.long)
        attention = torch.zeros((len(ids), length), dtype=torch.long)
        label_tensor = torch.full((len(ids), length), IGNORE_INDEX, dtype=torch.long)
        for i, row in enumerate(ids):
            sl = slice(length - len(row), length) if left else slice(0, len(row))
            input_ids[i, sl] = torch.tensor(row)
            attention[i, sl] = 1
            if labels is not None:
                label_tensor[i, sl] = torch.tensor(labels[i])
        batch = {"input_ids": input_ids, "attention_mask": attention}
        if labels is not None:
            batch["labels"] = label_tensor
        return batch

    def decode(self, token_ids) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=True).strip()
