"""Convert a CTranslate2 Whisper model into a transformers `WhisperForConditionalGeneration` folder.

The folder holds float32 safetensors weights, config.json, generation_config.json (language and
task ids, suppressed tokens, alignment heads) and the processor files (feature extractor and a
`WhisperTokenizer` built from the package's tokenizer.json, plus the 1501 timestamp tokens so
its size equals the model's vocabulary).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tokenizers import AddedToken
from transformers import (
    GenerationConfig,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)

from alm.errors import WeightsError
from alm.weights.ctranslate2 import Ct2Model, parse_model_bin

STEPS = 4  # read, map tensors, tokenizer and configs, save
N_TIMESTAMPS = 1501  # <|0.00|> .. <|30.00|> in 0.02 s steps
MULTILINGUAL_VOCAB = 51865  # openai-whisper: a vocabulary this large (or larger) is multilingual
EOT, SOT, NO_TIMESTAMPS, PREV = "<|endoftext|>", "<|startoftranscript|>", "<|notimestamps|>", "<|startofprev|>"
StateDict = dict[str, torch.Tensor]


def _count_layers(ct2: Ct2Model, side: str) -> int:
    pattern = re.compile(rf"{side}/layer_(\d+)/")
    return len({m.group(1) for name in ct2.variables if (m := pattern.match(name))})


def model_config(ct2: Ct2Model, ct2_config: dict, tokenizer: WhisperTokenizer) -> WhisperConfig:
    """Dimensions read off the tensors; special token ids from the tokenizer; suppressed ids from config.json."""
    var = ct2.variables
    d_model, n_mels, _ = var["encoder/conv1/weight"].shape
    eot, sot = tokenizer.convert_tokens_to_ids([EOT, SOT])
    return WhisperConfig(
        vocab_size=var["decoder/embeddings/weight"].shape[0],
        num_mel_bins=int(n_mels),
        d_model=int(d_model),
        encoder_layers=_count_layers(ct2, "encoder"),
        decoder_layers=_count_layers(ct2, "decoder"),
        encoder_attention_heads=int(var["encoder/num_heads"]),
        decoder_attention_heads=int(var["decoder/num_heads"]),
        encoder_ffn_dim=var["encoder/layer_0/ffn/linear_0/weight"].shape[0],
        decoder_ffn_dim=var["decoder/layer_0/ffn/linear_0/weight"].shape[0],
        max_source_positions=var["encoder/position_encodings/encodings"].shape[0],
        max_target_positions=var["decoder/position_encodings/encodings"].shape[0],
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=sot,
        suppress_tokens=list(ct2_config["suppress_ids"]),
        begin_suppress_tokens=list(ct2_config["suppress_ids_begin"]),
        architectures=["WhisperForConditionalGeneration"],
    )


class _Mapper:
    """Copies CTranslate2 variables to transformers keys, tracking which ones were used."""

    def __init__(self, ct2: Ct2Model) -> None:
        self.ct2 = ct2
        self.used: set[str] = set()
        self.out: StateDict = {}

    def _get(self, name: str) -> np.ndarray:
        if name not in self.ct2.variables:
            raise WeightsError(f"CTranslate2 Whisper model lacks the variable {name!r}")
        self.used.add(name)
        return self.ct2.variables[name]

    def _put(self, key: str, array: np.ndarray) -> None:
        self.out[key] = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))

    def copy(self, src: str, dst: str) -> None:
        self._put(dst, self._get(src))

    def linear(self, src: str, dst: str) -> None:
        self.copy(f"{src}/weight", f"{dst}.weight")
        self.copy(f"{src}/bias", f"{dst}.bias")

    def norm(self, src: str, dst: str) -> None:
        self.copy(f"{src}/gamma", f"{dst}.weight")
        self.copy(f"{src}/beta", f"{dst}.bias")

    def fused(self, src: str, dst: str, projections: tuple[str, ...]) -> None:
        """Split a fused projection (q,k,v or k,v along the output dim); HF's k_proj has no bias."""
        weights = np.split(self._get(f"{src}/weight"), len(projections))  # (n*D, D) -> n x (D, D)
        biases = np.split(self._get(f"{src}/bias"), len(projections))  # (n*D,) -> n x (D,)
        for proj, weight, bias in zip(projections, weights, biases):
            self._put(f"{dst}.{proj}.weight", weight)
            if proj == "k_proj":
                if np.any(bias):
                    raise WeightsError(f"{src}: the k part of the fused bias is not zero; cannot map to Whisper")
            else:
                self._put(f"{dst}.{proj}.bias", bias)


def state_dict(ct2: Ct2Model) -> StateDict:
    """All weights under transformers' names (proj_out is tied to the token embeddings)."""
    m = _Mapper(ct2)
    for side in ("encoder", "decoder"):
        m.copy(f"{side}/position_encodings/encodings", f"model.{side}.embed_positions.weight")
        m.norm(f"{side}/layer_norm", f"model.{side}.layer_norm")
        for i in range(_count_layers(ct2, side)):
            src, dst = f"{side}/layer_{i}", f"model.{side}.layers.{i}"
            m.fused(f"{src}/self_attention/linear_0", f"{dst}.self_attn", ("q_proj", "k_proj", "v_proj"))
            m.linear(f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj")
            m.norm(f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
            if side == "decoder":
                m.linear(f"{src}/attention/linear_0", f"{dst}.encoder_attn.q_proj")
                m.fused(f"{src}/attention/linear_1", f"{dst}.encoder_attn", ("k_proj", "v_proj"))
                m.linear(f"{src}/attention/linear_2", f"{dst}.encoder_attn.out_proj")
                m.norm(f"{src}/attention/layer_norm", f"{dst}.encoder_attn_layer_norm")
            m.linear(f"{src}/ffn/linear_0", f"{dst}.fc1")
            m.linear(f"{src}/ffn/linear_1", f"{dst}.fc2")
            m.norm(f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")
    m.linear("encoder/conv1", "model.encoder.conv1")
    m.linear("encoder/conv2", "model.encoder.conv2")
    m.copy("decoder/embeddings/weight", "model.decoder.embed_tokens.weight")
    unused = [n for n, v in ct2.variables.items() if n not in m.used and v.ndim > 0 and n not in ct2.aliases]
    if unused:
        raise WeightsError(f"CTranslate2 Whisper model has tensors this converter does not map: {unused[:5]}")
    return m.out


def build_tokenizer(tokenizer_json: Path, vocab_size: int) -> WhisperTokenizer:
    """A WhisperTokenizer from a tokenizers file; special tokens as in openai/whisper, timestamps added."""
    added = json.loads(tokenizer_json.read_text(encoding="utf-8"))["added_tokens"]
    specials = [t["content"] for t in added if t.get("special") and t["content"] != EOT]
    tokenizer = WhisperTokenizer(tokenizer_file=str(tokenizer_json), extra_special_tokens=specials)
    first_timestamp = tokenizer.convert_tokens_to_ids(NO_TIMESTAMPS) + 1
    if first_timestamp != len(tokenizer):
        raise WeightsError(f"{tokenizer_json}: <|notimestamps|> is not the last token; cannot add timestamps")
    tokenizer.add_tokens(
        [AddedToken(f"<|{i * 0.02:.2f}|>", special=False, normalized=False) for i in range(N_TIMESTAMPS)]
    )
    if len(tokenizer) != vocab_size:
        raise WeightsError(f"{tokenizer_json}: {len(tokenizer)} tokens but the model has {vocab_size}")
    return tokenizer


def generation_config(ct2_config: dict, config: WhisperConfig, tokenizer: WhisperTokenizer) -> GenerationConfig:
    """Like openai/whisper-*'s generation_config.json, from the CTranslate2 config.json."""
    ids = tokenizer.convert_tokens_to_ids
    multilingual = config.vocab_size >= MULTILINGUAL_VOCAB
    extra: dict = {}
    if multilingual:
        extra["lang_to_id"] = {tokenizer.convert_ids_to_tokens(i): i for i in ct2_config["lang_ids"]}
        extra["task_to_id"] = {"translate": ids("<|translate|>"), "transcribe": ids("<|transcribe|>")}
    return GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions,
        suppress_tokens=config.suppress_tokens,
        begin_suppress_tokens=config.begin_suppress_tokens,
        alignment_heads=[list(h) for h in ct2_config["alignment_heads"]],
        no_timestamps_token_id=ids(NO_TIMESTAMPS),
        prev_sot_token_id=ids(PREV),
        max_initial_timestamp_index=50,
        return_timestamps=False,
        is_multilingual=multilingual,
        **extra,
    )


def convert_whisper(weights: tuple[Path, ...], extras: dict[str, Path], out_dir: Path,
                    step: Callable[[str], None]) -> None:
    """Write a transformers Whisper folder to `out_dir` from (joined) model.bin parts and side files."""
    step("reading model.bin")
    ct2 = parse_model_bin(b"".join(p.read_bytes() for p in weights), str(weights[0]))
    if ct2.name != "WhisperSpec":
        raise WeightsError(f"{weights[0]}: a CTranslate2 {ct2.name}, not a Whisper model")
    step("mapping tensors")
    tensors = state_dict(ct2)
    vocab_size = tensors["model.decoder.embed_tokens.weight"].shape[0]
    step("tokenizer and configs")
    tokenizer = build_tokenizer(extras["tokenizer.json"], vocab_size)
    ct2_config = json.loads(extras["config.json"].read_text(encoding="utf-8"))
    config = model_config(ct2, ct2_config, tokenizer)
    del ct2
    model = WhisperForConditionalGeneration(config)
    result = model.load_state_dict(tensors, strict=False)
    if result.unexpected_keys or set(result.missing_keys) - {"proj_out.weight"}:  # proj_out is tied
        raise WeightsError(f"converted Whisper does not match transformers' layout: {result}")
    model.tie_weights()
    model.generation_config = generation_config(ct2_config, config, tokenizer)
    step("saving")
    model.save_pretrained(out_dir)
    WhisperProcessor(WhisperFeatureExtractor(feature_size=config.num_mel_bins), tokenizer).save_pretrained(out_dir)
