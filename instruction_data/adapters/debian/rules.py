"""Name -> labels rules shared by the Debian adapters whose labels live in file names, and the
helpers that turn matched files into clips (one content-duplicate kept, one origin per unit)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instruction_data.adapters.common import AUDIO_EXTENSIONS, audio_files, file_recipe
from instruction_data.clips import Clip, safe_id
from instruction_data.taxonomy import expand
from instruction_data.text import default_caption

# (regex on the file stem, most specific label or None to skip, caption or "" for the default)
Rule = tuple[str, str | None, str]


def match(stem: str, rules: list[Rule]) -> tuple[list[str], str] | None:
    """First rule whose regex matches (re.search); None when no rule or the rule skips."""
    for pattern, label, caption in rules:
        if re.search(pattern, stem):
            if label is None:
                return None
            return expand([label]), caption or default_caption(label)
    return None


@dataclass
class Found:
    """One audio file (or container member) of a package: the key rules match, its recipe and
    a fingerprint of its bytes (identical files shipped twice are kept once)."""

    key: str                 # e.g. "tilesets/forest/sounds/rain" (no extension)
    recipe: dict[str, Any]
    content: str             # hash of the bytes (or of size + CRC for zip members)
    origin: str = ""         # "dataset:unit" when the file belongs to a unit (pack, kit, speaker)


def file_content(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def found_files(root: Path, dataset: str, extensions: tuple[str, ...] = AUDIO_EXTENSIONS) -> list[Found]:
    """Every audio file under `root`, keyed by its path below it without the extension."""
    return [Found(p.relative_to(root).with_suffix("").as_posix(), file_recipe(p), file_content(p), dataset)
            for p in audio_files(root, extensions)]


def dedupe(found: Iterable[Found]) -> list[Found]:
    """First of each set of identical files (sorted by key), order kept."""
    seen: set[str] = set()
    out = []
    for f in sorted(found, key=lambda f: f.key):
        if f.content not in seen:
            seen.add(f.content)
            out.append(f)
    return out


def rule_clips(dataset: str, found: Iterable[Found], rules: list[Rule], licence: str,
               kind_of: Callable[[list[str]], str] | None = None) -> list[Clip]:
    """Clips for the files a rule labels; files no rule (or a skipping rule) matches are left out."""
    clips, ids = [], set()
    for f in dedupe(found):
        hit = match(f.key, rules)
        cid = safe_id(dataset, f.key)
        if hit is None or cid in ids:
            continue  # unlabelled, or one name shipped in two formats (mace.ogg, mace.wav): the first is kept
        ids.add(cid)
        labels, caption = hit
        kind = kind_of(labels) if kind_of else ("music" if "music" in labels else "sound")
        clips.append(Clip(id=cid, dataset=dataset, recipe=f.recipe, labels=labels,
                          caption=caption, kind=kind, licence=licence, origin=f.origin or dataset))
    return clips
