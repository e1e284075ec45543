"""Which setup extra provides a missing Python package, read from alm's installed metadata (pyproject's
`optional-dependencies`), so a command whose extra was not installed says what to run instead of a traceback."""
from __future__ import annotations

import importlib.metadata
import re


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def extra_providing(module: str) -> str | None:
    """The extra (e.g. "eval") whose requirements name the top-level package of `module`; None if none does."""
    wanted = _normal(module.split(".")[0])
    try:
        requires = importlib.metadata.requires("alm") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for requirement in requires:
        found = re.match(r"\s*([A-Za-z0-9_.\-]+)[^;]*;\s*extra\s*==\s*['\"]([^'\"]+)['\"]", requirement)
        if found and _normal(found.group(1)) == wanted and found.group(2) != "test":
            return found.group(2)
    return None


def missing_package_message(exc: ModuleNotFoundError) -> str:
    """One line for a package that is not installed: the extra to set up, when one provides it."""
    name = exc.name or str(exc)
    extra = extra_providing(name)
    if extra:
        return f"needs the Python package '{name}' from the {extra} extra: run ./setup.sh {extra}"
    return f"needs the Python package '{name}', which is not installed: run ./setup.sh again"
