"""User-facing errors of the instruction-data tools (shown as one line by the `alm` CLI)."""

from __future__ import annotations

from alm.errors import AlmError


class DataError(AlmError):
    """Instruction data or a data source cannot be used: missing, malformed or inconsistent."""


class EndpointError(AlmError):
    """The OpenAI-compatible endpoint used for open-ended generation failed for good."""
