"""Errors that reach the user as one line.

Anything the user can cause (a bad file, a bad model name, a bad option) raises `AlmError`
with a message that says what is wrong and, where there is one, what to do. The CLI prints
the message alone and exits non-zero; the API server maps it to a 4xx response.
"""


def first_line(exc: Exception) -> str:
    """The first line of an exception's message (a library's own error, quoted in a one-line AlmError)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class AlmError(Exception):
    """A user-facing error: its message is shown as-is, without a traceback."""


class AudioError(AlmError):
    """The audio given cannot be used: missing, empty, corrupt, not audio, or too long."""


class WeightsError(AlmError):
    """Model weights cannot be found, verified or converted."""
