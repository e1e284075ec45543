"""Building a kernel's C source into a shared library with this machine's C compiler, once, cached.

The library is built for this CPU (`-march=native`), so the cache key holds the source, the compiler's identity and
the CPU's model and feature flags; it lives in `$ALM_HOME/kernels/<key>/` and is written to a temp file and
renamed, so an interrupted or concurrent build never leaves a half file. Flag sets are tried in order (gcc's and
x86 clang's `-march=native`, then Arm clang's `-mcpu=native`, then generic); if none builds, or there is no
compiler, the caller gets None and the reason, and runs its PyTorch path instead.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from alm.weights.cache import alm_home

OPTIMIZE = ["-O3", "-fPIC", "-shared", "-fno-math-errno", "-fassociative-math", "-fno-signed-zeros",
            "-fno-trapping-math"]  # reassociation lets the compiler vectorize sums; no other fast-math licence
FLAG_SETS = (["-march=native", "-pthread"], ["-mcpu=native", "-pthread"], ["-pthread"])
COMPILE_TIMEOUT_S = 120


def compiler() -> str | None:
    """`$CC`, else the first of cc, gcc, clang on PATH."""
    if os.environ.get("CC"):
        return shutil.which(os.environ["CC"])
    return next((path for name in ("cc", "gcc", "clang") if (path := shutil.which(name))), None)


def _cpu_identity() -> str:
    """The CPU's model and feature flags (Linux), else what `platform` knows."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines()
        wanted = [line for line in lines if line.startswith(("model name", "flags", "Features", "CPU part"))]
        return "\n".join(sorted(set(wanted)))
    except OSError:
        return f"{platform.machine()} {platform.processor()}"


def _compiler_identity(cc: str) -> str:
    try:
        return subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return cc


def shared_library(source: Path) -> tuple[Path | None, str]:
    """(path of `source` built into a shared library for this machine, how it was built) or (None, why not)."""
    cc = compiler()
    if cc is None:
        return None, "no C compiler on PATH (cc, gcc, clang, or $CC)"
    code = source.read_bytes()
    key = hashlib.sha256(b"\0".join([code, _compiler_identity(cc).encode(), _cpu_identity().encode(),
                                      repr((OPTIMIZE, FLAG_SETS)).encode()])).hexdigest()[:16]
    folder = alm_home() / "kernels" / f"{source.stem}-{key}"
    target = folder / f"lib{source.stem}{'.dylib' if platform.system() == 'Darwin' else '.so'}"
    flags_note = folder / "flags.txt"
    if target.is_file() and flags_note.is_file():
        return target, flags_note.read_text(encoding="utf-8").strip()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return None, f"cannot create {folder}: {exc.strerror or exc}"
    errors = []
    for flags in FLAG_SETS:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
        try:
            run = subprocess.run([cc, *OPTIMIZE, *flags, str(source), "-o", tmp], capture_output=True, text=True,
                                 timeout=COMPILE_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as exc:
            run, errors = None, [*errors, f"{' '.join(flags) or 'plain'}: {exc}"]
        if run is not None and run.returncode == 0:
            how = f"{Path(cc).name} {' '.join(flags)}".strip()
            flags_note.write_text(how + "\n", encoding="utf-8")
            os.replace(tmp, target)
            return target, how
        Path(tmp).unlink(missing_ok=True)
        if run is not None:
            last = (run.stderr.strip().splitlines() or ["failed"])[-1]
            errors.append(f"{' '.join(flags) or 'plain'}: {last}")
    return None, f"{Path(cc).name} could not build {source.name} ({'; '.join(errors)})"
