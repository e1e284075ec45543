"""Turn a base model name into a local transformers folder, converting built-ins on first use."""

from __future__ import annotations

import importlib
import time
from pathlib import Path

from alm.errors import WeightsError
from alm.weights.cache import alm_home, build_atomically, is_current
from alm.weights.progress import Steps
from alm.weights.sources import BUILTIN_BASES, BaseSource, verify

BUILTIN_PREFIX = "builtin:"
# kind -> (module, function); imported only when a conversion runs (they pull in transformers).
# Each function takes (weights, extras, out_dir, step); each module declares its STEPS count.
CONVERTERS: dict[str, tuple[str, str]] = {
    "whisper": ("alm.weights.whisper_ct2", "convert_whisper"),
    "llm": ("alm.weights.smollm2_gguf", "convert_gguf_llm"),
    "sound_cnn": ("alm.weights.aisfx_cnn", "convert_aisfx_cnn"),
    "yamnet": ("alm.weights.yamnet_onnx", "convert_yamnet"),
}


def get_source(name: str) -> BaseSource:
    """The declared source of a built-in name; an unknown built-in is a WeightsError listing them."""
    if name not in BUILTIN_BASES:
        raise WeightsError(f"unknown built-in base {name!r}; choose one of: {', '.join(BUILTIN_BASES)}")
    return BUILTIN_BASES[name]


def converted_dir(source: BaseSource, home: Path | None = None) -> Path:
    """Where `source` is (or will be) converted: `<home>/bases/<short name>`."""
    return (home or alm_home()) / "bases" / source.short_name


def is_prepared(source: BaseSource, home: Path | None = None) -> bool:
    """True if the converted folder exists and records exactly this source's pins."""
    return is_current(converted_dir(source, home), source.pins())


def _prepare(source: BaseSource, home: Path | None) -> tuple[Path, bool]:
    """Convert `source` unless its folder is current; returns (folder, whether this call converted)."""
    target = converted_dir(source, home)
    if is_current(target, source.pins()):
        return target, False
    module_name, function = CONVERTERS[source.kind]

    def build(out_dir: Path) -> None:
        files = verify(source)
        module = importlib.import_module(module_name)
        with Steps(f"converting {source.name}", module.STEPS) as step:
            getattr(module, function)(files.weights, files.extras, out_dir, step)

    return target, build_atomically(target, source.pins(), build)


def prepare_base(source: BaseSource | str, home: Path | None = None) -> Path:
    """Verify and convert `source` unless already done; returns the converted folder."""
    return _prepare(get_source(source) if isinstance(source, str) else source, home)[0]


def timed_prepare(source: BaseSource, home: Path | None = None) -> tuple[Path, float, bool]:
    """prepare_base, also returning the seconds taken and whether this call converted."""
    start = time.perf_counter()
    folder, converted = _prepare(source, home)
    return folder, time.perf_counter() - start, converted


def resolve_base(name_or_path: str) -> str:
    """A built-in name -> its converted local folder; anything else (folder, hub id) unchanged."""
    if not name_or_path.startswith(BUILTIN_PREFIX):
        return name_or_path
    return str(prepare_base(get_source(name_or_path)))
