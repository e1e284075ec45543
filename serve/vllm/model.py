"""alm as a vLLM multimodal model: Whisper encoder -> aligner -> audio embeddings merged into vLLM's LLM.

The processor cuts each clip into Whisper windows of log-mel exactly as `alm.processor` does and
expands the `<|audio|>` placeholder to `num_audio_tokens(clip)` copies (the one definition in
`alm.model.audio_tokens`), followed for speech-aware models by the tokens of the clip's Whisper
transcript, worded as `alm.processor.transcript_text` words it; the encoder and aligner are alm's own modules, so audio embeddings are
the transformers engine's; the LLM is vLLM's implementation of the text architecture, with the
LoRA already merged into its weights by `serve.vllm.export`.

Shapes (A clips, W windows of all clips, M mel bins, Tm mel frames, T encoder frames, N tokens per
window, D LLM width):
    audio_mel (W, M, Tm), audio_mel_lengths (W,), audio_num_windows (A,), audio_num_tokens (A,)
    encoder (W, M, Tm) -> (W, T, C); aligner (W, T, C) -> (W, N, D) -> per clip (sum_w N_w, D)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from transformers import BatchFeature, WhisperFeatureExtractor
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

from alm.model.aligners import build_aligner
from alm.model.audio_encoder import WhisperAudioEncoder, padding_mask
from alm.audio.features import mel_windows
from alm.model.audio_tokens import SAMPLE_RATE, num_audio_tokens
from alm.processor import transcript_text

AUDIO_TOKEN = "<|audio|>"  # AlmConfig.audio_token's default; checked against the config at load
_transcribers: dict[str, object] = {}  # audio_base -> alm.transcribe.Transcriber, loaded on first use


def transcribe(audio_base: str, wave: np.ndarray) -> str:
    """Whisper's transcript of one clip, as the transformers engine makes it (speech-aware models)."""
    if audio_base not in _transcribers:
        from alm.transcribe import Transcriber

        _transcribers[audio_base] = Transcriber(audio_base, device="cpu")  # runs in vLLM's front-end process
    return _transcribers[audio_base].transcribe(wave)


class AlmProcessingInfo(BaseProcessingInfo):
    def get_hf_config(self):
        return self.ctx.model_config.hf_config

    def get_feature_extractor(self) -> WhisperFeatureExtractor:
        return WhisperFeatureExtractor(feature_size=self.get_hf_config().audio_config.num_mel_bins)

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
    def _call_hf_processor(self, hf_data: Mapping[str, object], hf_kwargs: Mapping[str, object]) -> BatchFeature:
        """Clips (16 kHz mono, resampled by the data parser) -> mel windows and token counts."""
        config = self.info.get_hf_config()
        extractor = self.info.get_feature_extractor()
        clips = hf_data.get("audio") or hf_data.get("audios") or []
        tokenizer = self.info.get_tokenizer()
        windows, num_windows, num_tokens, transcript_ids, transcript_lens = [], [], [], [], []
        for wave in clips:
            wave = np.asarray(wave, dtype=np.float32).reshape(-1)
            if len(wave) > self.info.max_audio_samples():
                raise ValueError(f"an audio clip is {len(wave) / SAMPLE_RATE:.1f} s long; the maximum is "
                                 f"{config.max_audio_seconds:g} s")
            mels = mel_windows(wave, config.window_seconds, extractor)
            windows += mels
            num_windows.append(len(mels))
            num_tokens.append(num_audio_tokens(len(wave), config))
            if config.speech_transcripts:  # the text alm.processor puts after the clip's audio tokens
                ids = tokenizer.encode(transcript_text(transcribe(config.audio_base, wave)), add_special_tokens=False)
                transcript_ids += ids
                transcript_lens.append(len(ids))
        if not windows:
            return BatchFeature({})
        lengths = [m.shape[-1] for m in windows]
        mel = np.zeros((len(windows), windows[0].shape[0], max(lengths)), dtype=np.float32)  # W, M, Tm
        for i, m in enumerate(windows):
            mel[i, :, : m.shape[-1]] = m
        features = {
            "audio_mel": torch.from_numpy(mel),
            "audio_mel_lengths": torch.tensor(lengths, dtype=torch.long),
            "audio_num_windows": torch.tensor(num_windows, dtype=torch.long),
            "audio_num_tokens": torch.tensor(num_tokens, dtype=torch.long),
        }
        if config.speech_transcripts:
            features["audio_transcript_ids"] = torch.tensor(transcript_ids, dtype=torch.long)
            features["audio_transcript_lens"] = torch.tensor(transcript_lens, dtype=torch.long)
        return BatchFeature(features)

    def _get_mm_fields_config(self, hf_inputs: BatchFeature, hf_processor_mm_kwargs: Mapping[str, object]):
        num_windows = hf_inputs.get("audio_num_windows", torch.zeros(0, dtype=torch.long))
        fields = dict(
            audio_mel=MultiModalFieldConfig.flat_from_sizes("audio", num_windows),
            audio_mel_lengths=MultiModalFieldConfig.flat_from_sizes("audio", num_windows),
            audio_num_windows=MultiModalFieldConfig.batched("audio"),
            audio_num_tokens=MultiModalFieldConfig.batched("audio"),
        )
        if "audio_transcript_lens" in hf_inputs:
            fields["audio_transcript_ids"] = MultiModalFieldConfig.flat_from_sizes(
                "audio", hf_inputs["audio_transcript_lens"])
            fields["audio_transcript_lens"] = MultiModalFieldConfig.batched("audio")
        return fields

    def _get_prompt_updates(self, mm_items: MultiModalDataItems, hf_processor_mm_kwargs: Mapping[str, object],
                            out_mm_kwargs: MultiModalKwargsItems) -> Sequence[PromptUpdate]:
        token_id = self.info.audio_token_id()
        items = out_mm_kwargs.get("audio", [])

        def replacement(item_idx: int) -> list[int] | PromptUpdateDetails:
            item = items[item_idx]
            audio = [token_id] * int(item["audio_num_tokens"].data)
            if "audio_transcript_ids" not in item:
                return audio
            # Speech-aware: the clip's transcript tokens follow; only the audio tokens take embeddings.
            transcript = _flat(item["audio_transcript_ids"].data).tolist()
            return PromptUpdateDetails.select_token_id(audio + transcript, token_id)

        return [PromptReplacement(modality="audio", target=[token_id], replacement=replacement)]


def _flat(value) -> torch.Tensor:
    """Batched/flat fields arrive as a tensor or a (nested) list of tensors -> one 1-D tensor."""
    if isinstance(value, torch.Tensor):
        return value.reshape(-1)
    return torch.cat([_flat(v) for v in value])


def _mel_batch(value) -> torch.Tensor:
    """(W, M, Tm) windows, or a list of such blocks with different Tm -> one zero-padded (W, M, Tm_max)."""
    if isinstance(value, torch.Tensor):
        return value.reshape(-1, *value.shape[-2:])
    blocks = [_mel_batch(v) for v in value]
    length = max(b.shape[-1] for b in blocks)
    return torch.cat([nn.functional.pad(b, (0, length - b.shape[-1])) for b in blocks])


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
        mel = _mel_batch(mel).to(dtype)  # W, M, Tm
        lengths = _flat(kwargs["audio_mel_lengths"]).to(mel.device)  # W
        num_windows = _flat(kwargs["audio_num_windows"]).tolist()  # A
        frames, frame_lengths = self.audio_encoder(mel, lengths)  # W, M, Tm -> W, T, C
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
