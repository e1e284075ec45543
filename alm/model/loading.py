"""The arguments `AlmForConditionalGeneration.from_pretrained` takes, checked in one place.

transformers' standard loading arguments that make sense for an alm checkpoint are honoured;
anything else raises an `AlmError` naming it, instead of being silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from alm.errors import AlmError

HUB_ARGUMENTS = ("revision", "token", "cache_dir", "local_files_only", "force_download", "proxies")
# passed by transformers' Auto classes; harmless here (alm ships no remote code; no extra adapters)
AUTO_CLASS_ARGUMENTS = ("_from_auto", "trust_remote_code", "adapter_kwargs")


@dataclass
class LoadOptions:
    dtype: torch.dtype = torch.float32  # weights of the encoder, aligner and LLM
    dtype_is_auto: bool = False  # dtype="auto": the dtype the checkpoint's config records
    device_map: Any = None  # None (CPU), a device, "auto" (accelerate spreads the LLM), or {"": device}
    attn_implementation: str | None = None  # "eager", "sdpa", "flash_attention_2"... for the LLM and the encoder
    quantization: str | None = None  # "4bit" / "8bit": overrides the config (QLoRA through bitsandbytes)
    config: Any = None  # an AlmConfig to use instead of the checkpoint's config.json
    subfolder: str = ""  # the checkpoint inside a folder or repository
    hub: dict[str, Any] = field(default_factory=dict)  # HUB_ARGUMENTS given

    def checkpoint_kwargs(self) -> dict[str, Any]:
        """For `resolve_checkpoint`: where the checkpoint itself comes from."""
        return {**{k: v for k, v in self.hub.items() if k != "proxies"}, "subfolder": self.subfolder}

    def base_kwargs(self) -> dict[str, Any]:
        """For the bases' `from_pretrained`: hub access (not `revision`, which names the checkpoint's commit)."""
        out = {k: v for k, v in self.hub.items() if k != "revision" and v is not None}
        if self.attn_implementation is not None:
            out["attn_implementation"] = self.attn_implementation
        return out


def _dtype(value) -> torch.dtype:
    if isinstance(value, torch.dtype):
        return value
    if isinstance(value, str) and isinstance(getattr(torch, value.removeprefix("torch."), None), torch.dtype):
        return getattr(torch, value.removeprefix("torch."))
    raise AlmError(f"dtype must be a torch dtype, its name (e.g. 'bfloat16') or 'auto', got {value!r}")


def _device_map(value):
    if value is None or value == "auto":
        return value
    if isinstance(value, dict):
        if set(value) != {""}:
            raise AlmError("device_map as a per-module mapping is not supported for alm models; give one device "
                           "(e.g. 'cuda:0'), {'': device}, or 'auto'")
        value = value[""]
    try:
        return torch.device(value)
    except (RuntimeError, TypeError):
        raise AlmError(f"device_map: not a device: {value!r}") from None


def load_options(kwargs: dict[str, Any]) -> LoadOptions:
    """Check and consume from_pretrained's keyword arguments."""
    kwargs = dict(kwargs)
    for name in AUTO_CLASS_ARGUMENTS:
        value = kwargs.pop(name, None)
        if name == "adapter_kwargs" and value and set(value) - {"revision", "token"}:
            raise AlmError("adapter_kwargs are not supported: an alm checkpoint keeps its LoRA adapter in lora/")
    if "torch_dtype" in kwargs:  # transformers' former name
        kwargs.setdefault("dtype", kwargs.pop("torch_dtype"))
    dtype = kwargs.pop("dtype", None)
    options = LoadOptions(
        dtype_is_auto=dtype == "auto",
        device_map=_device_map(kwargs.pop("device_map", None)),
        attn_implementation=kwargs.pop("attn_implementation", None),
        quantization=kwargs.pop("quantization", None),
        config=kwargs.pop("config", None),
        subfolder=kwargs.pop("subfolder", "") or "",
        hub={k: kwargs.pop(k) for k in HUB_ARGUMENTS if k in kwargs},
    )
    if dtype not in (None, "auto"):
        options.dtype = _dtype(dtype)
    if options.quantization not in (None, "4bit", "8bit"):
        raise AlmError(f"quantization must be '4bit' or '8bit', got {options.quantization!r}")
    if kwargs:
        raise AlmError(f"AlmForConditionalGeneration.from_pretrained does not support {', '.join(sorted(kwargs))}; "
                       "it takes dtype, device_map, attn_implementation, quantization, config, subfolder and "
                       f"{', '.join(HUB_ARGUMENTS)}")
    return options
