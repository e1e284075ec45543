"""Making sure the Debian packages with the corpus audio are installed (apt-get when root)."""

from __future__ import annotations

import os
import shutil
import subprocess

from rich.console import Console



def is_installed(package: str) -> bool:
    if shutil.which("dpkg-query") is None:
        return False
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return result.returncode == 0 and "install ok installed" in result.stdout


def ensure(packages: list[str], console: Console, install: bool = True) -> list[str]:
    """Install missing packages when allowed and possible; return those still missing."""
    missing = [p for p in dict.fromkeys(packages) if not is_installed(p)]
    if not missing:
        return []
    can = install and shutil.which("apt-get") is not None and hasattr(os, "geteuid") and os.geteuid() == 0
    if not can:
        console.print(f"[yellow]missing Debian packages: {' '.join(missing)}; their sources are skipped. "
                      f"Install them with: apt-get install -y {' '.join(missing)}[/yellow]")
        return missing
    console.print(f"installing Debian packages: {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", *missing]
    if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        subprocess.run(cmd, env=env, capture_output=True)
    still = [p for p in missing if not is_installed(p)]
    if still:
        console.print(f"[yellow]could not install {' '.join(still)}; their sources are skipped[/yellow]")
    return still
