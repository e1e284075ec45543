"""`AlmProcessor`: conversations with audio -> model inputs (a transformers `ProcessorMixin`).

It holds Whisper's feature extractor, the LLM's tokenizer (with the audio token added) and alm's
chat template (`alm.chat_template`: the LLM's own template extended to audio content parts). A
conversation is rendered by that template alone, each audio token in the rendered prompt is
expanded to exactly `num_audio_tokens(clip)` audio tokens (followed, for speech-aware models, by the
tokens of the clip's Whisper transcript), and each clip is cut into Whisper windows of log-mel.
For training it also builds labels that keep only the assistant's tokens.

Saved with `save_pretrained` beside the model (processor_config.json, chat_template.jinja and the
tokenizer) and loaded with `AlmProcessor.from_pretrained(folder)` or `AutoProcessor.from_pretrained`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, BatchFeature, ProcessorMixin, WhisperFeatureExtractor

from alm.audio.features import mel_windows, pad_windows
from alm.audio.sound_features import SoundFeatures
from alm.chat_template import build_chat_template, is_alm_template
from alm.conversation import Conversation, audio_part_count, message_text, text_pieces
from alm.errors import AlmError, AudioError
from alm.literal_text import encode, guard, special_strings
from alm.model.audio_tokens import SAMPLE_RATE, AudioTokenSpec, num_audio_tokens, split_windows
from alm.model.tagger import tags_text

IGNORE_INDEX = -100
PROCESSOR_FILE = "processor_config.json"
_END_PROBE = "\x00alm-end-probe\x00"


def check_clip(wave: np.ndarray, max_audio_seconds: float, name: str) -> None:
    """A clip must be non-empty 16 kHz mono and no longer than `max_audio_seconds`."""
    if wave.ndim != 1 or len(wave) == 0:
        raise AudioError(f"{name}: expected non-empty 16 kHz mono audio")
    if len(wave) > max_audio_seconds * SAMPLE_RATE:
        raise AudioError(f"{name} is {len(wave) / SAMPLE_RATE:.1f} s long; the maximum is "
                         f"{max_audio_seconds:g} s (max_audio_seconds)")


def transcript_text(transcript: str) -> str:
    """What follows a clip's audio tokens in a speech-aware prompt (the vLLM plugin uses the same words)."""
    return f' (speech transcript: "{transcript.strip()}")'


def clip_notes(transcript: str | None, tags: list[tuple[str, float]] | None,
               asked: list[tuple] | None = None) -> str:
    """The text that follows a clip's audio tokens: its speech transcript and its sound tags (with the asked
    sounds' probabilities), when the model reads them (empty otherwise). The one place the words are chosen; the
    vLLM plugin calls it too."""
    return (transcript_text(transcript) if transcript is not None else "") + (tags_text(tags, asked)
                                                                             if tags is not None else "")


def conversation_notes(conv: Conversation) -> list[str]:
    """`clip_notes` of every clip of the conversation."""
    def of(notes, k):
        return notes[k] if notes is not None else None

    return [clip_notes(of(conv.transcripts, k), of(conv.tags, k), of(conv.asked, k)) for k in range(len(conv.audios))]


def asked_text(prompt: str, system_prompt: str | None) -> str:
    """The text a tagger's asked sounds are found in (`SoundTagger.asked_names`): the rendered prompt up to the
    answer (one audio token per clip), the model's own system prompt left out. Training, `alm ask`, the API and
    vLLM's front end all read the same rendered prompt."""
    return prompt.replace(system_prompt, " ") if system_prompt else prompt


class AlmProcessor(ProcessorMixin):
    def __init__(self, feature_extractor=None, tokenizer=None, chat_template=None, audio_token: str = "<|audio|>",
                 audio_tokens: dict | None = None, max_audio_seconds: float = 600.0,
                 instruction_aware: bool = False, sound_encoder: str | None = None):
        """`audio_tokens`: the `AudioTokenSpec` fields of the model's config (how many tokens a clip becomes);
        `sound_encoder`: the model's general-sound encoder (`AlmConfig.sound_encoder`), whose input features the
        processor makes beside Whisper's log-mel;
        `chat_template`: an alm template (`alm.chat_template.build_chat_template`); None takes the tokenizer's,
        which must be one (use `AlmProcessor.from_config` to build a processor for a new model)."""
        if audio_token not in tokenizer.get_vocab():
            tokenizer.add_tokens([audio_token], special_tokens=True)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        chat_template = chat_template or tokenizer.chat_template
        if not is_alm_template(chat_template):
            raise AlmError("AlmProcessor needs alm's chat template; build one with AlmProcessor.from_config(config)")
        tokenizer.chat_template = chat_template  # the tokenizer renders conversations exactly as the processor does
        if audio_tokens is None:
            from alm.model.configuration import AlmConfig

            audio_tokens = AudioTokenSpec.of(AlmConfig()).to_dict()
        self.audio_token = audio_token
        self.audio_tokens = dict(audio_tokens)
        self.max_audio_seconds = float(max_audio_seconds)
        self.instruction_aware = bool(instruction_aware)
        self.sound_encoder = sound_encoder
        self.sound_features = SoundFeatures.for_encoder(sound_encoder) if sound_encoder else None
        self.spec = AudioTokenSpec(**self.audio_tokens)
        super().__init__(feature_extractor, tokenizer, chat_template=chat_template)

    # ------------------------------------------------------------------ building and loading
    @classmethod
    def from_config(cls, config, tokenizer=None) -> "AlmProcessor":
        """A processor for a model with this `AlmConfig`: the text base's tokenizer (unless given) and a chat
        template built from the tokenizer's own and `config.system_prompt`. Sets `config.audio_token_id`."""
        if tokenizer is None:
            from alm.weights import resolve_base

            if not config.text_base:
                raise AlmError("the config names no text base to take the tokenizer from")
            tokenizer = AutoTokenizer.from_pretrained(resolve_base(config.text_base))
        if not tokenizer.chat_template:
            raise AlmError(f"the tokenizer of {config.text_base!r} has no chat template; alm needs a chat LLM")
        template = build_chat_template(tokenizer.chat_template, config.system_prompt, config.audio_token)
        extractor = WhisperFeatureExtractor(feature_size=config.audio_config.num_mel_bins)
        processor = cls(extractor, tokenizer, chat_template=template, audio_token=config.audio_token,
                        audio_tokens=AudioTokenSpec.of(config).to_dict(),
                        max_audio_seconds=config.max_audio_seconds, instruction_aware=config.instruction_aware,
                        sound_encoder=config.sound_encoder)
        config.audio_token_id = processor.audio_token_id
        return processor

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, **kwargs) -> "AlmProcessor":
        """A checkpoint folder, Hugging Face id or packaged name (`alm-tiny`). A checkpoint saved before
        processors were saved (no processor_config.json) gets one built from its config and tokenizer."""
        from alm.auto import register
        from alm.checkpoints import resolve_checkpoint

        register()  # transformers' tokenizer loader reads the folder's config.json through AutoConfig: it must know alm

        hub_kwargs = {k: kwargs[k] for k in ("revision", "token", "cache_dir", "local_files_only") if k in kwargs}
        path = resolve_checkpoint(str(pretrained_model_name_or_path), **hub_kwargs)
        if (path / PROCESSOR_FILE).is_file():
            saved = json.loads((path / PROCESSOR_FILE).read_text()).get("sound_encoder")
            if isinstance(saved, str) and saved.startswith("./"):  # inside the folder (a self-contained export)
                kwargs["sound_encoder"] = str(path / saved[2:])
            return super().from_pretrained(str(path), **kwargs)
        from alm.model.configuration import AlmConfig

        config = AlmConfig.from_pretrained(path)
        tokenizer = AutoTokenizer.from_pretrained(str(path)) if (path / "tokenizer_config.json").is_file() else None
        return cls.from_config(config, tokenizer)

    @property
    def audio_token_id(self) -> int:
        return self.tokenizer.convert_tokens_to_ids(self.audio_token)

    @property
    def end_of_turn_ids(self) -> list[int]:
        """Token ids that end the assistant's turn: the first token the chat template writes after an assistant
        message (e.g. `<|im_end|>`) and the tokenizer's end-of-sequence token."""
        rendered = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": "?"}, {"role": "assistant", "content": _END_PROBE}], tokenize=False)
        after = rendered.split(_END_PROBE, 1)[1]
        ids = self.tokenizer(after, add_special_tokens=False)["input_ids"][:1] if after.strip() else []
        ends = {*ids, self.tokenizer.eos_token_id}
        return sorted(i for i in ends if isinstance(i, int) and i >= 0 and i != self.tokenizer.unk_token_id)

    # ------------------------------------------------------------------ checks
    def check_clips(self, conv: Conversation) -> None:
        """Audio parts match the clips, sit in user messages only, and no text carries the audio token itself."""
        parts = sum(audio_part_count(m) for m in conv.messages)
        if parts != len(conv.audios):
            raise AlmError(f"the conversation has {parts} audio part(s) but {len(conv.audios)} clip(s)")
        for i, msg in enumerate(conv.messages):
            if msg.get("role") != "user" and audio_part_count(msg):
                raise AlmError("audio may only appear in user messages")
            if any(self.audio_token in text for text in text_pieces(msg)):
                raise AlmError(f"message {i + 1}: the text may not contain the audio token {self.audio_token!r} "
                               "(audio goes in audio parts)")
        for name, notes in (("transcript", conv.transcripts), ("tag list", conv.tags), ("asked list", conv.asked)):
            if notes is not None and len(notes) != len(conv.audios):
                raise AlmError(f"{len(notes)} {name}(s) for {len(conv.audios)} clip(s)")
        for i, wave in enumerate(conv.audios):
            check_clip(wave, self.max_audio_seconds, f"clip {i + 1}")

    # ------------------------------------------------------------------ text
    def render(self, messages: list[dict], add_generation_prompt: bool) -> str:
        """The prompt text (one audio token per clip) exactly as the chat template writes it."""
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)

    def _assistant_spans(self, messages: list[dict], full: str) -> list[tuple[int, int]]:
        """Character spans of the assistant replies (with their end-of-turn) in the rendered `full`."""
        spans = []
        for k, msg in enumerate(messages):
            if msg["role"] != "assistant":
                continue
            start = len(self.render(messages[:k], add_generation_prompt=True))
            upto = self.render(messages[: k + 1], add_generation_prompt=False)
            if full[: len(upto)] != upto:
                raise AlmError("the chat template does not render conversations as prefixes; cannot mask labels")
            spans.append((start, len(upto)))
        if not spans:
            raise AlmError("a training conversation needs at least one assistant message")
        return spans

    def _expand(self, ids: list[int], labels: list[int] | None, clips: list[int],
                notes: list[str] | None) -> tuple[list[int], list[int] | None]:
        """Each audio token -> the clip's `num_audio_tokens` audio tokens (+ the tokens of its `clip_notes`);
        `clips` are sample counts. Inserted tokens are never labels."""
        audio_id = self.audio_token_id
        positions = [i for i, t in enumerate(ids) if t == audio_id]
        if len(positions) != len(clips):
            raise AlmError(f"the prompt has {len(positions)} audio token(s) for {len(clips)} clip(s)")
        out_ids, out_labels, start = [], [] if labels is not None else None, 0
        for k, pos in enumerate(positions):
            inserted = [audio_id] * num_audio_tokens(clips[k], self.spec)
            if notes and notes[k]:
                inserted += self.tokenizer(notes[k], add_special_tokens=False)["input_ids"]
            out_ids += ids[start:pos] + inserted
            if labels is not None:
                out_labels += labels[start:pos] + [IGNORE_INDEX] * len(inserted)
            start = pos + 1
        out_ids += ids[start:]
        if labels is not None:
            out_labels += labels[start:]
        return out_ids, out_labels

    def tokenize(self, conv: Conversation, train: bool, add_generation_prompt: bool = True):
        """-> (input_ids list, labels list or None), audio tokens expanded. Only the chat template inserts special
        tokens: special-token strings inside message text stay literal text (`alm.literal_text`)."""
        messages, texts = guard(conv.messages, special_strings(self.tokenizer))
        rendered = self.render(messages, add_generation_prompt=add_generation_prompt and not train)
        full, ids, offsets = encode(self.tokenizer, rendered, texts, offsets=train)
        if not train:
            return self._expand(ids, None, [len(w) for w in conv.audios], conversation_notes(conv))[0], None
        spans = self._assistant_spans(conv.messages, full)
        labels = [tok if any(s <= a < e for s, e in spans) else IGNORE_INDEX for tok, (a, _b) in zip(ids, offsets)]
        return self._expand(ids, labels, [len(w) for w in conv.audios], conversation_notes(conv))

    # ------------------------------------------------------------------ audio
    def audio_features(self, clips: list[np.ndarray], instructions: list[str] | None = None) -> dict[str, torch.Tensor]:
        """Clips (16 kHz mono) -> audio_mel (W, M, Tm) zero-padded, audio_mel_lengths (W,), audio_num_windows
        (clips,); with a sound encoder its features per window, sound_features (W, F, S) and sound_lengths (W,);
        for instruction-aware aligners each window's question tokens."""
        windows, per_clip, window_text, sound, sound_lengths = [], [], [], [], []
        for k, wave in enumerate(clips):
            mels = mel_windows(wave, self.spec.window_seconds, self.feature_extractor)
            windows += mels
            per_clip.append(len(mels))
            if self.sound_features is not None:
                for window in split_windows(wave, self.spec.window_seconds):
                    features, length = self.sound_features(window)
                    sound.append(features)
                    sound_lengths.append(length)
            if instructions is not None:
                window_text += [instructions[k]] * len(mels)
        if not windows:
            return {}
        out = {"audio_mel": pad_windows(windows),  # W, M, Tm
               "audio_mel_lengths": torch.tensor([m.shape[-1] for m in windows]),
               "audio_num_windows": torch.tensor(per_clip)}
        if sound:
            out["sound_features"] = pad_windows(sound)  # W, F, S
            out["sound_lengths"] = torch.tensor(sound_lengths)
        if self.instruction_aware and instructions is not None:
            enc = self.tokenizer(window_text, add_special_tokens=False, padding=True, return_tensors="pt")
            out["instruction_ids"], out["instruction_mask"] = enc["input_ids"], enc["attention_mask"]
        return out

    @staticmethod
    def _instructions(conv: Conversation) -> list[str]:
        """For each clip, the text of the user message it appears in."""
        return [message_text(m) for m in conv.messages for _ in range(audio_part_count(m))]

    # ------------------------------------------------------------------ batches
    def batch(self, conversations: list[Conversation], train: bool = False,
              add_generation_prompt: bool = True) -> dict[str, torch.Tensor]:
        """Conversations -> padded model inputs (left-padded for generation, right-padded with labels for training)."""
        ids, labels, clips, instructions = [], [], [], []
        for conv in conversations:
            self.check_clips(conv)
            conv_ids, conv_labels = self.tokenize(conv, train, add_generation_prompt)
            ids.append(conv_ids)
            labels.append(conv_labels)
            clips += conv.audios
            instructions += self._instructions(conv)
        batch = self._pad_text(ids, labels if train else None, left=not train)
        features = self.audio_features(clips, instructions)
        features.pop("audio_num_windows", None)
        return {**batch, **features}

    def __call__(self, text: str | list[str] | None = None, audio: list[np.ndarray] | np.ndarray | None = None,
                 transcripts: list[str | None] | None = None, tags: list | None = None, asked: list | None = None,
                 return_tensors: str = "pt", **_unused) -> BatchFeature:
        """transformers-style: prompt text(s) already rendered by the chat template (one audio token per clip)
        and the clips in the order their tokens appear across the batch -> left-padded inputs. `transcripts`,
        `tags` and `asked`, one per clip, are what speech-aware or tag-reading models read beside each clip."""
        texts = [text] if isinstance(text, str) else list(text or [])
        clips = [audio] if isinstance(audio, np.ndarray) else list(audio or [])
        ids, start = [], 0
        for prompt in texts:
            row = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
            n = row.count(self.audio_token_id)
            notes = [clip_notes(*(given[k] if given is not None else None for given in (transcripts, tags, asked)))
                     for k in range(start, start + n)]
            ids.append(self._expand(row, None, [len(w) for w in clips[start : start + n]], notes)[0])
            start += n
        if start != len(clips):
            raise AlmError(f"the text has {start} audio token(s) for {len(clips)} clip(s)")
        for i, wave in enumerate(clips):
            check_clip(np.asarray(wave), self.max_audio_seconds, f"clip {i + 1}")
        features = self.audio_features([np.asarray(w, dtype=np.float32) for w in clips])
        features.pop("audio_num_windows", None)
        return BatchFeature({**self._pad_text(ids, None, left=True), **features}, tensor_type=return_tensors)

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

    @property
    def model_input_names(self) -> list[str]:
        return ["input_ids", "attention_mask", "audio_mel", "audio_mel_lengths", "sound_features", "sound_lengths",
                "instruction_ids", "instruction_mask"]

    def decode(self, token_ids, **kwargs) -> str:
        return self.tokenizer.decode(token_ids, skip_special_tokens=True, **kwargs).strip()

    def batch_decode(self, sequences, **kwargs) -> list[str]:
        return [self.decode(s, **kwargs) for s in sequences]

