"""A one-line progress bar on stderr for a conversion made of a few named steps."""

from __future__ import annotations

from types import TracebackType

from tqdm import tqdm


class Steps:
    """Call with each step's label as it starts; the bar counts finished steps."""

    def __init__(self, title: str, total: int) -> None:
        self._title = title
        self._bar = tqdm(total=total, desc=title, bar_format="{desc}({n}/{total} steps, {elapsed})")
        self._started = False

    def __call__(self, label: str) -> None:
        if self._started:
            self._bar.update(1)
        self._started = True
        self._bar.set_description(f"{self._title}: {label}")

    def __enter__(self) -> Steps:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None and self._started:
            self._bar.update(1)
            self._bar.set_description(f"{self._title}: done")
        self._bar.close()
