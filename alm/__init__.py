"""alm: an open audio-language assistant."""

__version__ = "0.1.0"
