"""Audio format names: what a request may declare, what a MIME type means, what a decoder found.

A client may say what its bytes are (`input_audio.format`, the MIME type of a `data:` URL). The
bytes decide how they are decoded; a declaration only has to agree with them, so a mislabelled
upload is refused instead of silently read as something else. Names are lower-case container
names as OpenAI clients use them.
"""

from __future__ import annotations

from alm.errors import AudioError

# What `input_audio.format` may say (OpenAI's "wav" and "mp3", and the other formats alm decodes).
FORMATS = ("wav", "mp3", "flac", "ogg", "opus", "m4a", "aac", "webm")

# A declared format accepts these detected formats (an Ogg file may carry Opus; m4a usually carries AAC).
_ACCEPTS = {"ogg": {"ogg", "opus"}, "m4a": {"m4a", "aac"}, "aac": {"aac", "m4a"}}

_MIME = {
    "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/vnd.wave": "wav", "audio/x-pn-wav": "wav",
    "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/mpeg3": "mp3", "audio/x-mpeg-3": "mp3", "audio/x-mp3": "mp3",
    "audio/flac": "flac", "audio/x-flac": "flac",
    "audio/ogg": "ogg", "application/ogg": "ogg", "audio/vorbis": "ogg", "audio/x-vorbis+ogg": "ogg",
    "audio/opus": "opus",
    "audio/mp4": "m4a", "audio/m4a": "m4a", "audio/x-m4a": "m4a", "video/mp4": "m4a",
    "audio/aac": "aac", "audio/x-aac": "aac", "audio/aacp": "aac",
    "audio/webm": "webm", "video/webm": "webm",
}
_UNDECLARED_MIME = {"", "application/octet-stream", "audio/*", "audio/x-unknown", "binary/octet-stream"}

# FFmpeg demuxers alm lets probe untrusted bytes (no playlists, no concat lists, no image or network formats).
FFMPEG_DEMUXERS = "wav,w64,flac,ogg,mp3,mov,matroska,aac,aiff"


def declared_format(value: str | None) -> str | None:
    """A request's `format` -> one of FORMATS (None when not given); AudioError for an unknown name."""
    if value is None or not value.strip():
        return None
    name = value.strip().lower()
    if name not in FORMATS:
        raise AudioError(f"audio format {value!r} is not one of {', '.join(FORMATS)}")
    return name


def format_of_mime(mime: str) -> str | None:
    """A MIME type (`audio/mpeg`) -> a format name, None when it says nothing specific (`audio/*`,
    `application/octet-stream`, an unknown `audio/...` type); AudioError for a type that is not audio."""
    mime = mime.split(";", 1)[0].strip().lower()
    if mime in _MIME:
        return _MIME[mime]
    if mime in _UNDECLARED_MIME or mime.startswith("audio/"):
        return None
    raise AudioError(f"the data is labelled {mime!r}, which is not an audio type")


def sndfile_format(major: str, subtype: str) -> str:
    """libsndfile's major format and subtype (`OGG`, `OPUS`) -> a format name."""
    major, subtype = major.upper(), subtype.upper()
    if major in ("WAV", "WAVEX", "RF64", "W64"):
        return "wav"
    if major == "OGG":
        return "opus" if subtype == "OPUS" else "ogg"
    if major in ("MP3", "MPEG"):
        return "mp3"
    return major.lower()


def ffmpeg_format(demuxer: str, codec: str) -> str:
    """FFmpeg's demuxer name (`mov,mp4,m4a,3gp,3g2,mj2`) and audio codec -> a format name."""
    first = demuxer.split(",", 1)[0]
    if first == "ogg":
        return "opus" if codec == "opus" else "ogg"
    if first == "mov":
        return "m4a"
    if first == "matroska":
        return "webm"
    if first == "w64":
        return "wav"
    return first


def check_agrees(declared: str | None, detected: str, name: str) -> None:
    """AudioError when a declaration contradicts what the bytes are."""
    if declared is not None and detected not in _ACCEPTS.get(declared, {declared}):
        raise AudioError(f"{name}: declared as {declared}, but the data is {detected}; send the right format "
                         "(or leave it out and the contents decide)")
