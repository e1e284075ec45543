"""Errors that reach the user as one line.

Anything the user can cause (a bad file, a bad model name, a bad option) raises `AlmError`
with a message that says what is wrong and, where there is one, what to do. The CLI prints
the message alone and exits non-zero; the API server maps it to a 4xx response.
"""


class AlmError(Exception):
    """A user-facing error: its message is shown as-is, without a traceback."""


class AudioError(AlmError):
    """The audio given cannot be used: missing, empty, corrupt, not audio, or too long."""


class WeightsError(AlmError):
    """Model weights cannot be found, verified or converted."""
