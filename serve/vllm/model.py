"""alm as a vLLM multimodal model: Whisper encoder -> aligner -> audio embeddings merged into vLLM's LLM.

The prompt is rendered by the export's chat template (alm's, detected by vLLM as taking content
parts), so it is the transformers engine's prompt. The processor is alm's own `AlmProcessor`
(loaded from the export by AutoProcessor): it cuts each clip into Whisper windows of log-mel, and
the prompt update expands each audio token to `num_audio_tokens(clip)` copies (the one definition
in `alm.model.audio_tokens`), followed by the tokens of the clip's notes (`alm.processor.clip_notes`): its Whisper transcript for
speech-aware models, its sound tags for models with a tagger. Both are made in vLLM's front-end process
on the CPU, as the transformers engine makes them: the transcript by alm's transcriber, the tags by
the export's Whisper encoder and tagger (`alm.model.tagger`; the encoder so runs twice per clip, once
here on the CPU and once in the model). A tagger with names gives the probabilities of the sounds the prompt
names: `apply` finds them in the prompt (`alm.processor.asked_text`) and passes them to the clips' processing as a
processor kwarg, so vLLM's processor cache keys a clip by the names asked about it too. The encoder and aligner
are alm's own modules, so audio embeddings are the transformers engine's; the LLM is vLLM's implementation of the text
architecture, with the LoRA merged into its weights by `serve.vllm.export`.

A model with a general-sound encoder (YAMNet, aisfx, a Hub model) runs it in the front end too, on the features alm's
processor makes, and stretches its frames onto Whisper's grid (`sound_frames`): the tagger reads them as it does in
the transformers engine, and when they feed the aligner (`sound_to_aligner`) they travel to the model beside the mel,
which concatenates them with Whisper's frames before the aligner.

Shapes (A clips, W windows of all clips, M mel bins, Tm mel frames, T encoder frames, E sound-encoder width, N
tokens per window, D LLM width):
    audio_mel (W, M, Tm), audio_mel_lengths (W,), audio_num_windows (A,), audio_num_tokens (A,)
    audio_sound_frames (W, E, T) (models whose sound encoder feeds the aligner)
    encoder (W, M, Tm) -> (W, T, C) [+ sound -> (W, T, C + E)]; aligner -> (W, N, D) -> per clip (sum_w N_w, D)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from transformers import BatchFeature
from vllm.config import VllmConfig
from vllm.multimodal import MULTIMODAL_REGISTRY
from vllm.multimodal.inputs import MultiModalFieldConfig, MultiModalKwargsItems
from vllm.multimodal.parse import MultiModalDataItems, MultiModalDataParser
from vllm.multimodal.processing import (
    BaseDummyInputsBuilder,
    BaseMultiModalProcessor,
    BaseProcessingInfo,
    PromptReplacement,
    PromptUpdate,
    PromptUpdateDetails,
)
from vllm.sequence import IntermediateTensors

from vllm.model_executor.models.interfaces import MultiModalEmbeddings, SupportsMultiModal, SupportsPP
from vllm.model_executor.models.utils import AutoWeightsLoader, init_vllm_registered_model, maybe_prefix

from alm.audio.features import pad_windows
from alm.model.aligners import build_aligner
from alm.model.audio_encoder import WhisperAudioEncoder, padding_mask, window_stats
from alm.model.audio_tokens import SAMPLE_RATE, encoder_frames, num_audio_tokens
from alm.model.sound_encoder import load_sound_encoder, sound_frames_on_grid
from alm.model.tagger import SoundTagger, pool_clips, with_sound_block
from alm.processor import asked_text, check_clip, clip_notes
from serve.vllm.export import TAGGER_DIR

AUDIO_TOKEN = "<|audio|>"  # AlmConfig.audio_token's default; checked against the config at load
ASKED_KWARG = "alm_asked_sounds"  # the processor kwarg carrying the sound names a prompt asks about ("dog|drum")
_transcribers: dict[tuple, object] = {}  # (audio_base, gate) -> alm.transcribe's transcriber, loaded on first use
_encoders: dict[str, tuple] = {}  # export folder -> its Whisper encoder and tagger (or None), its sound encoder (or None)


def transcribe(config, wave: np.ndarray) -> str:
    """Whisper's transcript of one clip, as the transformers engine makes it (speech-aware models)."""
    key = (config.audio_base, getattr(config, "no_speech_gate", None))
    if key not in _transcribers:  # the transformers engine's choice of backend and gate (alm.transcribe)
        from alm.transcribe import load_transcriber, model_gate

        _transcribers[key] = load_transcriber(config.audio_base, device="cpu",  # in vLLM's front-end process
                                              no_speech_threshold=model_gate(config))
    return _transcribers[key].transcribe(wave)


def export_encoders(export: str, config) -> tuple[WhisperAudioEncoder | None, SoundTagger | None, nn.Module | None]:
    """The export's own Whisper encoder and sound tagger (models with `sound_tags`) and its general-sound encoder
    (models with one, feeding the aligner or the tagger alone), in float32 on the CPU (loaded once per export)."""
    if export not in _encoders:
        from safetensors import safe_open

        encoder = tagger = sound = None
        if config.sound_tags:
            encoder = WhisperAudioEncoder(config.audio_config)
            with safe_open(str(Path(export) / "model.safetensors"), framework="pt") as f:
                encoder.load_state_dict({k.removeprefix("audio_encoder."): f.get_tensor(k) for k in f.keys()
                                         if k.startswith("audio_encoder.")})
            encoder, tagger = encoder.float().eval(), SoundTagger.load(Path(export) / TAGGER_DIR).float()
        if config.sound_encoder:  # "./sound_encoder", saved by the export
            sound = load_sound_encoder(str(Path(export) / config.sound_encoder.removeprefix("./"))).float().eval()
        _encoders[export] = (encoder, tagger, sound)
    return _encoders[export]


def sound_frames(export: str, config, features: dict[str, torch.Tensor]) -> torch.Tensor:
    """Each window's general-sound frames on Whisper's frame grid, (W, T, E) with T = ceil(Tm / 2), as
    `AlmForConditionalGeneration.encode_windows` makes them."""
    sound = export_encoders(export, config)[2]
    lengths = torch.as_tensor([encoder_frames(int(n)) for n in features["audio_mel_lengths"]])  # W
    return sound_frames_on_grid(sound, features["sound_features"].float(), features["sound_lengths"], lengths,
                                encoder_frames(features["audio_mel"].shape[-1]))  # W, S, E -> W, T, E


def clip_tags(export: str, config, features: dict[str, torch.Tensor], sound: torch.Tensor | None = None,
              asked: list[str] | None = None) -> tuple[list[list[tuple[str, float]]], list | None, list[bool]]:
    """The sound tagger's top labels of each clip (models with `sound_tags`), when `asked` names sounds the tagger
    knows each clip's probability of them, as `alm.inference.Assistant.with_notes` makes them, and whether each clip
    may have a transcript (`SoundTagger.hears_speech`, as `Assistant.transcribe` gates). `sound`: the windows'
    general-sound frames (`sound_frames`), for a model with a sound encoder."""
    encoder, tagger, _ = export_encoders(export, config)
    one_layer = tagger.settings.layers == 1 and sound is not None and config.sound_to_aligner  # reads both as one
    with torch.no_grad():
        frames, lengths, stats = encoder.encode(features["audio_mel"].float(), features["audio_mel_lengths"],
                                                0 if one_layer else tagger.settings.layers)  # W, T, C; W, K, 2C
        if one_layer:  # the frames the aligner reads, Whisper's and the sound encoder's
            stats = window_stats(torch.cat([frames, sound], -1), lengths)[:, None]  # W, 1, 2 (C + E)
        elif sound is not None and tagger.settings.sound_block:  # its pooled frames as one more block
            stats = with_sound_block(stats, window_stats(sound, lengths)[:, None])  # W, K + 1, 2W
        probs = tagger.clip_probabilities(pool_clips(stats, lengths, features["audio_num_windows"].tolist()))  # A, L
    names = [name for name in asked or [] if name in tagger.settings.names]
    return tagger.top_tags(probs), (tagger.asked_tags(probs, names) if names else None), tagger.hears_speech(probs)


class AlmProcessingInfo(BaseProcessingInfo):
    def get_hf_config(self):
        return self.ctx.model_config.hf_config

    def get_data_parser(self) -> MultiModalDataParser:
        return MultiModalDataParser(target_sr=SAMPLE_RATE, target_channels=1,
                                    expected_hidden_size=self._get_expected_hidden_size(),
                                    allow_missing_mm_embeddings=self.allow_missing_mm_embeddings)

    def get_supported_mm_limits(self) -> Mapping[str, int | None]:
        return {"audio": None}

    def max_audio_samples(self) -> int:
        return int(self.get_hf_config().max_audio_seconds * SAMPLE_RATE)

    def get_mm_max_tokens_per_item(self, seq_len: int, mm_counts: Mapping[str, int] | None = None):
        return {"audio": num_audio_tokens(self.max_audio_samples(), self.get_hf_config())}

    def audio_token_id(self) -> int:
        return self.get_tokenizer().convert_tokens_to_ids(self.get_hf_config().audio_token)


class AlmDummyInputsBuilder(BaseDummyInputsBuilder[AlmProcessingInfo]):
    def get_dummy_text(self, mm_counts: Mapping[str, int]) -> str:
        return AUDIO_TOKEN * mm_counts.get("audio", 0)

    def get_dummy_mm_data(self, seq_len: int, mm_counts: Mapping[str, int], mm_options=None):
        return {"audio": self._get_dummy_audios(length=self.info.max_audio_samples(),
                                                num_audios=mm_counts.get("audio", 0),
                                                overrides=(mm_options or {}).get("audio"))}


class AlmMultiModalProcessor(BaseMultiModalProcessor[AlmProcessingInfo]):
    def apply(self, inputs, timing_ctx):
        """A tagger with names: the sounds the prompt names join the processor kwargs (`ASKED_KWARG`), so the clips'
        notes give their probabilities and the processor cache keys each clip by them too."""
        config = self.info.get_hf_config()
        if config.sound_tags and inputs.mm_data_items.get_all_counts().get("audio"):
            tagger = export_encoders(self.info.ctx.model_config.model, config)[1]
            if tagger.asks:
                prompt = self.info.get_tokenizer().decode(inputs.prompt)
                names = tagger.asked_names(asked_text(prompt, config.system_prompt))
                if names:
                    inputs = dataclasses.replace(inputs, hf_processor_mm_kwargs={**inputs.hf_processor_mm_kwargs,
                                                                                  ASKED_KWARG: "|".join(names)})
        return super().apply(inputs, timing_ctx)

    def _call_hf_processor(self, hf_data: Mapping[str, object], hf_kwargs: Mapping[str, object]) -> BatchFeature:
        """Clips (16 kHz mono, resampled by the data parser) -> mel windows and token counts, by alm's own
        processor (`AlmProcessor.audio_features`, loaded from the export by AutoProcessor)."""
        config = self.info.get_hf_config()
        processor = self.info.get_hf_processor()
        clips = [np.asarray(w, dtype=np.float32).reshape(-1) for w in hf_data.get("audio") or hf_data.get("audios") or []]
        for wave in clips:
            check_clip(wave, processor.max_audio_seconds, "an audio clip")
        features = processor.audio_features(clips)
        if not features:
            return BatchFeature({})
        features["audio_num_tokens"] = torch.tensor([num_audio_tokens(len(w), processor.spec) for w in clips])
        export = self.info.ctx.model_config.model
        sound = None
        if config.sound_encoder:  # its frames, for the tagger and (sound_to_aligner) the aligner
            sound = sound_frames(export, config, features)  # W, T, E
            if config.sound_to_aligner:  # stored (W, E, T): the blocks pad on T, as mel
                features["audio_sound_frames"] = sound.transpose(1, 2).contiguous()
        for key in ("sound_features", "sound_lengths"):  # the model in vLLM takes Whisper's mel (and the above)
            features.pop(key, None)
        if config.speech_transcripts or config.sound_tags:  # the text alm's processor puts after each clip's audio
            tags, asked, heard = [None] * len(clips), None, None
            if config.sound_tags:
                names = [n for n in str(hf_kwargs.get(ASKED_KWARG) or "").split("|") if n]
                tags, asked, heard = clip_tags(export, config, features, sound, names)
            transcripts = [None] * len(clips)
            if config.speech_transcripts:  # behind the tagger's speech gate, as `Assistant.transcribe` gates
                whisper = functools.partial(transcribe, config)
                transcripts = [whisper(w) for w in clips] if heard is None else \
                    export_encoders(export, config)[1].gated_transcripts(clips, heard, whisper)
            asked = asked or [None] * len(clips)
            ids = [processor.tokenizer.encode(clip_notes(t, g, a), add_special_tokens=False)
                   for t, g, a in zip(transcripts, tags, asked)]
            features["audio_note_ids"] = torch.tensor([t for row in ids for t in row], dtype=torch.long)
            features["audio_note_lens"] = torch.tensor([len(row) for row in ids], dtype=torch.long)
        return BatchFeature(features)

    def _get_mm_fields_config(self, hf_inputs: BatchFeature, hf_processor_mm_kwargs: Mapping[str, object]):
        num_windows = hf_inputs.get("audio_num_windows", torch.zeros(0, dtype=torch.long))
        fields = dict(
            audio_mel=MultiModalFieldConfig.flat_from_sizes("audio", num_windows),
            audio_mel_lengths=MultiModalFieldConfig.flat_from_sizes("audio", num_windows),
            audio_num_windows=MultiModalFieldConfig.batched("audio"),
            audio_num_tokens=MultiModalFieldConfig.batched("audio"),
        )
        if "audio_sound_frames" in hf_inputs:
            fields["audio_sound_frames"] = MultiModalFieldConfig.flat_from_sizes("audio", num_windows)
        if "audio_note_lens" in hf_inputs:
            fields["audio_note_ids"] = MultiModalFieldConfig.flat_from_sizes("audio", hf_inputs["audio_note_lens"])
            fields["audio_note_lens"] = MultiModalFieldConfig.batched("audio")
        return fields

    def _get_prompt_updates(self, mm_items: MultiModalDataItems, hf_processor_mm_kwargs: Mapping[str, object],
                            out_mm_kwargs: MultiModalKwargsItems) -> Sequence[PromptUpdate]:
        token_id = self.info.audio_token_id()
        items = out_mm_kwargs.get("audio", [])

        def replacement(item_idx: int) -> list[int] | PromptUpdateDetails:
            item = items[item_idx]
            audio = [token_id] * int(item["audio_num_tokens"].data)
            if "audio_note_ids" not in item:
                return audio
            # The clip's notes (transcript, tags) follow; only the audio tokens take embeddings.
            notes = _flat(item["audio_note_ids"].data).tolist()
            return PromptUpdateDetails.select_token_id(audio + notes, token_id)

        return [PromptReplacement(modality="audio", target=[token_id], replacement=replacement)]


def _flat(value) -> torch.Tensor:
    """Batched/flat fields arrive as a tensor or a (nested) list of tensors -> one 1-D tensor."""
    if isinstance(value, torch.Tensor):
        return value.reshape(-1)
    return torch.cat([_flat(v) for v in value])


def _mel_blocks(value) -> list[torch.Tensor]:
    """A (W, M, Tm) tensor, or a (nested) list of such blocks with different Tm -> the flat list of blocks."""
    return [value] if isinstance(value, torch.Tensor) else [b for v in value for b in _mel_blocks(v)]


@MULTIMODAL_REGISTRY.register_processor(AlmMultiModalProcessor, info=AlmProcessingInfo,
                                        dummy_inputs=AlmDummyInputsBuilder)
class AlmVllmForConditionalGeneration(nn.Module, SupportsMultiModal, SupportsPP):
    @classmethod
    def get_placeholder_str(cls, modality: str, i: int) -> str | None:
        if modality.startswith("audio"):
            return AUDIO_TOKEN
        raise ValueError("alm models only take audio")

    def __init__(self, *, vllm_config: VllmConfig, prefix: str = ""):
        super().__init__()
        config = vllm_config.model_config.hf_config
        if config.audio_token != AUDIO_TOKEN:
            raise ValueError(f"this vLLM model expects audio_token {AUDIO_TOKEN!r}, "
                             f"the config has {config.audio_token!r}")
        if config.instruction_aware:
            raise ValueError("instruction-aware aligners need the question text per clip; serve them with the "
                             "transformers engine")
        if config.aligner == "none":
            raise ValueError("aligner none (notes only, no audio embeddings) is not supported by alm's vLLM plugin, "
                             "which splices each clip's embeddings at its placeholders; serve it with the transformers "
                             "engine")
        self.config = config
        with self._mark_tower_model(vllm_config, "audio"):
            self.audio_encoder = WhisperAudioEncoder(config.audio_config)
            self.aligner = build_aligner(config)
        with self._mark_language_model(vllm_config):
            self.language_model = init_vllm_registered_model(
                vllm_config=vllm_config, hf_config=config.text_config, prefix=maybe_prefix(prefix, "language_model"),
                architectures=config.text_config.architectures or ["LlamaForCausalLM"])
        self.configure_mm_token_handling(config.text_config.vocab_size, [config.audio_token_id])
        self.make_empty_intermediate_tensors = self.language_model.make_empty_intermediate_tensors

    def embed_multimodal(self, **kwargs: object) -> MultiModalEmbeddings:
        mel = kwargs.get("audio_mel")
        if mel is None:
            return []
        dtype = next(self.aligner.parameters()).dtype
        mel = pad_windows(_mel_blocks(mel)).to(dtype)  # blocks (W_i, M, Tm_i) -> W, M, Tm
        lengths = _flat(kwargs["audio_mel_lengths"]).to(mel.device)  # W
        num_windows = _flat(kwargs["audio_num_windows"]).tolist()  # A
        frames, frame_lengths = self.audio_encoder(mel, lengths)  # W, M, Tm -> W, T, C
        if self.config.sound_encoder and self.config.sound_to_aligner:  # made in the front end (`sound_frames`)
            sound = pad_windows(_mel_blocks(kwargs["audio_sound_frames"]))  # blocks (W_i, E, T_i) -> W, E, T'
            sound = F.pad(sound, (0, frames.shape[1] - sound.shape[-1]))  # the batch's T
            frames = torch.cat([frames, sound.transpose(1, 2).to(frames)], -1)  # W, T, C + E
        tokens, token_lengths = self.aligner(frames, frame_lengths)  # W, T, C -> W, N, D
        flat = tokens[padding_mask(token_lengths, tokens.shape[1])]  # W, N, D -> sum_w N_w, D
        per_clip = [int(s.sum()) for s in token_lengths.split(num_windows)]
        return tuple(flat.split(per_clip))  # A x (N_a, D)

    def forward(self, input_ids: torch.Tensor | None, positions: torch.Tensor,
                intermediate_tensors: IntermediateTensors | None = None, inputs_embeds: torch.Tensor | None = None,
                **kwargs: object) -> torch.Tensor | IntermediateTensors:
        if intermediate_tensors is not None:
            inputs_embeds = None
        return self.language_model.model(input_ids, positions, intermediate_tensors, inputs_embeds=inputs_embeds)

    def compute_logits(self, hidden_states: torch.Tensor) -> torch.Tensor | None:
        return self.language_model.compute_logits(hidden_states)

    def load_weights(self, weights: Iterable[tuple[str, torch.Tensor]]) -> set[str]:
        return AutoWeightsLoader(self).load_weights(weights)
