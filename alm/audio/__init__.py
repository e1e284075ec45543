"""Audio input: decoding files and bytes to 16 kHz mono float32."""

from alm.audio.io import SAMPLE_RATE, decode_audio_bytes, load_audio, read_audio, to_mono_16k, wav_base64, wav_bytes

__all__ = ["SAMPLE_RATE", "decode_audio_bytes", "load_audio", "read_audio", "to_mono_16k", "wav_base64", "wav_bytes"]
