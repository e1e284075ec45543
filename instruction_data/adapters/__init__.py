"""Source adapters: labelled audio -> `Clip`s with metadata.

Every adapter is `load(root, limit=None) -> list[Clip]`. Public sets need `root` (their
folder as released; layouts in instruction_data/README.md); the Debian ones default to where
their package installs. `alm data build --source KIND=PATH` adds any of them to a build.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from instruction_data.adapters import (
    audiocaps,
    clotho,
    esc50,
    fsd50k,
    generic,
    speech_commands,
    urbansound8k,
    vggsound,
)
from instruction_data.adapters.debian import asterisk, freedesktop, gcompris, lmms, sonic_pi, tuxpaint
from instruction_data.clips import Clip
from instruction_data.errors import DataError

Loader = Callable[..., list[Clip]]

PUBLIC: dict[str, Loader] = {
    "folder": generic.load_folder,
    "csv": generic.load_csv,
    "esc50": esc50.load,
    "urbansound8k": urbansound8k.load,
    "audiocaps": audiocaps.load,
    "clotho": clotho.load,
    "clotho_aqa": clotho.load_aqa,
    "fsd50k": fsd50k.load,
    "vggsound": vggsound.load,
    "speech_commands": speech_commands.load,
}

# name -> (loader, Debian package that provides the audio)
DEBIAN: dict[str, tuple[Loader, str]] = {
    "tuxpaint": (tuxpaint.load, "tuxpaint-stamps-default"),
    "asterisk": (asterisk.load, "asterisk-core-sounds-en-wav"),
    "sonic_pi": (sonic_pi.load, "sonic-pi-samples"),
    "lmms": (lmms.load, "lmms-common"),
    "freedesktop": (freedesktop.load, "sound-theme-freedesktop"),
    "gcompris": (gcompris.load, "gcompris-qt-data"),
}
DEBIAN_ROOTS: dict[str, Path] = {
    "tuxpaint": tuxpaint.ROOT, "asterisk": asterisk.ROOT, "sonic_pi": sonic_pi.ROOT, "lmms": lmms.ROOT,
    "freedesktop": freedesktop.ROOT, "gcompris": gcompris.ROOT,
}


def load_source(kind: str, root: Path | None = None, limit: int | None = None) -> list[Clip]:
    """Clips of one source; a DataError names the missing folder or package."""
    if kind in PUBLIC:
        if root is None:
            raise DataError(f"source {kind!r} needs a folder: --source {kind}=PATH")
        return PUBLIC[kind](Path(root).expanduser(), limit=limit)
    if kind in DEBIAN:
        loader, package = DEBIAN[kind]
        folder = Path(root) if root else DEBIAN_ROOTS[kind]
        if not folder.exists():
            raise DataError(f"source {kind!r}: {folder} not found; install it with `apt-get install {package}` "
                            f"(scripts/debian-packages.txt lists all)")
        return loader(folder, limit=limit)
    known = ", ".join([*PUBLIC, *DEBIAN])
    raise DataError(f"unknown source {kind!r}; known sources: {known}")
