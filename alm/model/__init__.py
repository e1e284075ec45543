"""The alm model: config, Whisper encoder, aligners, the composite model, trainable-parameter control."""

from alm.model.audio_tokens import num_audio_tokens
from alm.model.configuration import AlmConfig
from alm.model.modeling import AlmForConditionalGeneration, AudioTokenMismatch
from alm.model.trainable import set_trainable

__all__ = ["AlmConfig", "AlmForConditionalGeneration", "AudioTokenMismatch", "num_audio_tokens", "set_trainable"]
