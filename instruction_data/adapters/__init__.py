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
from instruction_data.adapters.debian import (
    asterisk,
    effects,
    freedesktop,
    games,
    gcompris,
    hedgewars,
    hydrogen,
    kde_voices,
    lmms,
    megaglest,
    qabcs,
    sonic_pi,
    sound_themes,
    tuxpaint,
)
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

# name -> (loader, Debian packages that provide the audio, where the audio is)
DEBIAN_SOURCES: dict[str, tuple[Loader, tuple[str, ...], Path]] = {
    "tuxpaint": (tuxpaint.load, ("tuxpaint-stamps-default",), tuxpaint.ROOT),
    "asterisk": (asterisk.load, ("asterisk-core-sounds-en-wav", "asterisk-core-sounds-en"), asterisk.ROOT),
    "sonic_pi": (sonic_pi.load, ("sonic-pi-samples",), sonic_pi.ROOT),
    "lmms": (lmms.load, ("lmms-common",), lmms.ROOT),
    "freedesktop": (freedesktop.load, ("sound-theme-freedesktop",), freedesktop.ROOT),
    "gcompris": (gcompris.load, ("gcompris-qt-data",), gcompris.ROOT),
    "hedgewars": (hedgewars.load, ("hedgewars-data",), hedgewars.ROOT),
    "megaglest": (megaglest.load, ("megaglest-data",), megaglest.ROOT),
    "ktuberling": (kde_voices.load_ktuberling, ("ktuberling-data",), kde_voices.KTUBERLING_ROOT),
    "klettres": (kde_voices.load_klettres, ("klettres-data",), kde_voices.KLETTRES_ROOT),
    "warzone2100": (games.load_warzone, ("warzone2100-data",), games.WARZONE),
    "ufoai": (games.load_ufoai, ("ufoai-sound",), games.UFOAI),
    "freedroidrpg": (games.load_freedroid, ("freedroidrpg-data",), games.FREEDROID),
    "wesnoth": (games.load_wesnoth, ("wesnoth-1.16-data",), games.WESNOTH),
    "lincity_ng": (games.load_lincity, ("lincity-ng-data",), games.LINCITY),
    "minetest": (games.load_minetest, ("minetest-data",), games.MINETEST),
    "widelands": (games.load_widelands, ("widelands-data",), games.WIDELANDS),
    "hydrogen": (hydrogen.load, ("hydrogen-drumkits",), hydrogen.ROOT),
    "yaru_sounds": (sound_themes.load_yaru, ("yaru-theme-sound",), sound_themes.YARU),
    "deepin_sounds": (sound_themes.load_deepin, ("deepin-sound-theme",), sound_themes.DEEPIN),
    "oxygen_sounds": (sound_themes.load_oxygen, ("oxygen-sounds",), sound_themes.OXYGEN),
    "qabcs": (qabcs.load, ("qabcs-data",), qabcs.ROOT),
    **effects.loaders(),  # trophy, etw, brainparty, xemacs_sounds, mate_sounds, scorched3d, libreoffice_gallery
}
DEBIAN: dict[str, tuple[Loader, tuple[str, ...]]] = {k: (v[0], v[1]) for k, v in DEBIAN_SOURCES.items()}
DEBIAN_ROOTS: dict[str, Path] = {k: v[2] for k, v in DEBIAN_SOURCES.items()}
# synthesized sources that need Debian packages (rendered by the build, not read from a package)
SYNTH_PACKAGES: dict[str, tuple[str, ...]] = {"speech": ("espeak-ng",), "gm": ("fluidsynth", "fluid-soundfont-gm")}


def packages_for(sources: tuple[str, ...] | list[str]) -> list[str]:
    """The Debian packages the given built-in sources need (the data build's own list)."""
    out: list[str] = []
    for s in sources:
        out += [*DEBIAN.get(s, (None, ()))[1], *SYNTH_PACKAGES.get(s, ())]
    return list(dict.fromkeys(out))


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
            raise DataError(f"source {kind!r}: {folder} not found; install it with `apt-get install "
                            f"{' '.join(package)}` (`alm data build` does when run as root)")
        return loader(folder, limit=limit)
    known = ", ".join([*PUBLIC, *DEBIAN])
    raise DataError(f"unknown source {kind!r}; known sources: {known}")
