"""Build settings: one typed config, filled from CLI flags, with the default corpus sizes."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from instruction_data.errors import DataError

DEFAULT_SOURCES = ("tuxpaint", "asterisk", "sonic_pi", "lmms", "freedesktop", "gcompris", "hedgewars", "megaglest",
                   "ktuberling", "klettres", "warzone2100", "ufoai", "freedroidrpg", "wesnoth", "lincity_ng",
                   "minetest", "widelands", "yaru_sounds", "deepin_sounds", "oxygen_sounds", "hydrogen", "gm", "speech",
                   "piper", "tones", "qabcs", "trophy", "etw", "brainparty", "xemacs_sounds", "mate_sounds",
                   "scorched3d", "libreoffice_gallery")
# sources an adapter reads that the default build leaves out, named with --sources to add them (none today: corpus
# v3, which the shipped alm-tiny trained on, reads every built-in source)
OPTIONAL_SOURCES: tuple[str, ...] = ()
# whole sources held out as the test_ood split: everyday sounds and animals (gcompris, minetest,
# freedesktop), instruments (lmms), a real voice (asterisk, one speaker), two espeak-ng accents and
# one Hedgewars voice pack
DEFAULT_OOD = ("gcompris", "minetest", "freedesktop", "lmms", "asterisk", "synth_speech:en-029",
               "synth_speech:en-gb-x-gbclan", "hedgewars:Default_uk")
REASONING = ("auto", "templates", "endpoint")
# settings added after corpora were built, with the value that builds as before: hashed only when set otherwise, so
# an older corpus keeps its fingerprint (and is not rebuilt for nothing)
ADDED_LATER = {"min_split_groups": 0, "n_passages": 0, "n_phone": 0, "whole_speech": False}
# what the record generators write from the same settings: raised when a template or generator change alters a build's
# records, so a corpus built before is rebuilt rather than taken as up to date (hashed from 2 on, so builds of version 1
# keep their fingerprints). 1: up to corpus v3; 2: no-speech answers that name the sound (corpus v4)
RECORDS_VERSION = 2


def default_out() -> Path:
    """$ALM_HOME/data/offline-corpus when ALM_HOME is set, else ./data/offline-corpus."""
    home = os.environ.get("ALM_HOME")
    return (Path(home).expanduser() if home else Path.cwd()) / "data" / "offline-corpus"


@dataclass
class BuildConfig:
    out: Path = field(default_factory=default_out)      # corpus folder
    seed: int = 0                                       # every random choice derives from it
    sources: tuple[str, ...] = DEFAULT_SOURCES          # Debian adapters + "speech" (espeak-ng) + "tones"
    extra: tuple[tuple[str, str], ...] = ()             # (kind, path) of public/own sets (--source KIND=PATH)
    limit: int | None = None                            # at most this many clips per source (quick builds)
    scale: float = 1.0                                  # multiplies every synthesized/derived count below
    n_sentences: int = 500                              # espeak-ng English sentences
    n_commands: int = 150                               # espeak-ng one-word commands
    n_foreign: int = 150                                # espeak-ng captions in other languages
    n_long: int = 1500                                  # espeak-ng sentences of 8-30 words, many voices/variants
    n_piper: int = 250                                  # Piper (joe voice) sentences of 8-30 words
    n_passages: int = 0                                 # espeak-ng passages of 2-3 sentences, voices not held out
    n_phone: int = 0                                    # telephone-line copies of transcribed speech (all splits)
    whole_speech: bool = False                          # drop transcribed speech cut at the 10 s clip limit
    gm_per_program: int = 24                            # fluidsynth renders per named GM program
    gm_per_drum: int = 16                               # fluidsynth renders per GM percussion key
    n_mixes: int = 1500                                 # sounds/voices over real ambience at random SNR
    n_tones: int = 480                                  # tones, sweeps, noise, clicks, beeps
    n_sequences: int = 750                              # 2-3 sounds in a row (all splits together)
    n_repeats: int = 450                                # one sound repeated (counting)
    n_scenes: int = 250                                 # speech over a background sound
    n_changes: int = 300                                # edited copies for "what changed?"
    n_pairs: int = 1000                                 # random clip pairs for multi-clip questions
    min_per_class: int = 4                              # augment train classes with fewer clips
    ood: tuple[str, ...] = DEFAULT_OOD                  # held-out sources (dataset or dataset:unit) -> test_ood
    min_split_groups: int = 3                           # a class with fewer groups (outside ood) is all train
    dialogue_share: float = 0.10                        # share of clips that also get a multi-turn record
    open_ended_per_clip: int = 1                        # reasoning pairs per clip
    reasoning: str = "auto"                             # auto | templates | endpoint
    llm_base_url: str = ""                              # OpenAI-compatible endpoint (or ALM_LLM_BASE_URL)
    llm_model: str = ""                                 # model name (or ALM_LLM_MODEL)
    llm_api_key: str = ""                               # key (or ALM_LLM_API_KEY / OPENAI_API_KEY); never saved
    llm_workers: int = 4                                # concurrent endpoint requests
    workers: int = 2                                    # audio rendering threads
    install: bool = True                                # apt-get missing Debian packages when root
    force: bool = False                                 # rebuild records even when the manifest matches

    def __post_init__(self) -> None:
        if self.reasoning not in REASONING:
            raise DataError(f"--reasoning must be one of {', '.join(REASONING)}")
        if self.scale <= 0:
            raise DataError("--scale must be positive")
        if self.min_split_groups < 0:
            raise DataError("--min-split-groups must be 0 or more")
        if self.n_passages < 0 or self.n_phone < 0:
            raise DataError("--passages and --phone-speech must be 0 or more")
        self.out = Path(self.out).expanduser()
        self.ood = tuple(self.ood)

    def n(self, name: str) -> int:
        """A count scaled by `scale` (at least 1 when the base count is positive)."""
        base = getattr(self, name)
        return max(1, round(base * self.scale)) if base else 0

    def fingerprint(self) -> str:
        """Hash of everything that changes the corpus (not paths, keys, workers or force)."""
        keep = {k: v for k, v in asdict(self).items()
                if k not in ("out", "llm_api_key", "llm_workers", "workers", "install", "force")
                and not (k in ADDED_LATER and v == ADDED_LATER[k])}
        if RECORDS_VERSION > 1:
            keep["records_version"] = RECORDS_VERSION
        return hashlib.sha256(json.dumps(keep, sort_keys=True, default=str).encode()).hexdigest()[:16]
