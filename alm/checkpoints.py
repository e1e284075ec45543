"""Where alm checkpoints come from: packaged names, local folders, or Hugging Face ids."""

from __future__ import annotations

import re
from pathlib import Path

from alm.errors import WeightsError

PACKAGED = Path(__file__).parent / "pretrained"
DEFAULT_MODEL = "alm-tiny"


def packaged_models() -> list[str]:
    return sorted(p.name for p in PACKAGED.iterdir() if (p / "config.json").is_file()) if PACKAGED.is_dir() else []


def resolve_checkpoint(name_or_path: str, revision: str | None = None, token: str | bool | None = None,
                       cache_dir: str | Path | None = None, local_files_only: bool = False,
                       force_download: bool = False, subfolder: str = "") -> Path:
    """A packaged name (`alm-tiny`), a folder holding an alm config.json, or a Hugging Face id -> a local folder.

    The hub arguments (`revision`, `token`, `cache_dir`, `local_files_only`, `force_download`) apply to a Hugging
    Face id, as in transformers; `subfolder` to any of the three."""
    name_or_path = str(name_or_path)
    if (PACKAGED / name_or_path / subfolder / "config.json").is_file():
        return PACKAGED / name_or_path / subfolder
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / subfolder / "config.json").is_file():
            raise WeightsError(f"{path / subfolder}: not an alm checkpoint (no config.json)")
        return path / subfolder
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name_or_path):
        from huggingface_hub import snapshot_download

        try:
            folder = snapshot_download(name_or_path, revision=revision, token=token, cache_dir=cache_dir,
                                       local_files_only=local_files_only, force_download=force_download,
                                       allow_patterns=[f"{subfolder}/*"] if subfolder else None)
            return Path(folder) / subfolder
        except Exception as exc:  # noqa: BLE001 - hub errors are many; all mean "cannot get it"
            raise WeightsError(f"cannot download {name_or_path!r} from the Hugging Face hub: "
                               f"{str(exc).splitlines()[0]}") from None
    raise WeightsError(f"unknown model {name_or_path!r}: not a packaged model ({', '.join(packaged_models()) or 'none'}),"
                       f" an existing folder, or a Hugging Face id")
