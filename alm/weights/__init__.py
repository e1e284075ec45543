"""Base weights without a network: built-in sources shipped in pip packages, converted on first use.

`resolve_base("builtin:whisper-base")` returns a local transformers folder (converting it once into
`alm_home()/bases/`); any other name or path is returned unchanged.
"""

from alm.weights.cache import alm_home
from alm.weights.resolve import converted_dir, get_source, is_prepared, prepare_base, resolve_base
from alm.weights.sources import BUILTIN_BASES, BaseSource, Package, SourceFile, verify

__all__ = [
    "BUILTIN_BASES",
    "BaseSource",
    "Package",
    "SourceFile",
    "alm_home",
    "converted_dir",
    "get_source",
    "is_prepared",
    "prepare_base",
    "resolve_base",
    "verify",
]
