"""Name -> labels rules shared by the Debian adapters whose labels live in file names."""

from __future__ import annotations

import re

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
