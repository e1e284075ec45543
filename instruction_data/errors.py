"""User-facing errors of the instruction-data tools (shown as one line by the `alm` CLI)."""

from __future__ import annotations

from alm.errors import AlmError
from alm.openai_client import EndpointError  # noqa: F401 - the one endpoint error, re-exported here


class DataError(AlmError):
    """Instruction data or a data source cannot be used: missing, malformed or inconsistent."""

