"""OpenAI chat messages with audio parts -> an alm `Conversation` (content parts + decoded clips).

Each message keeps its parts in order (audio parts become `{"type": "audio"}`, their clips decoded
into `Conversation.audios`); how parts become prompt text is left to the chat template, exactly as
for training records, `alm ask` and vLLM. The request's limits (`alm.limits`) are checked first:
message count and text length before any audio is fetched, then each clip's length from its header
before it is decoded. Clips are decoded by content (`alm.audio.io.read_audio`, as `alm ask` and the
chat do); a declared `format` or MIME type must agree with the bytes. Where audio may come from:
- `input_audio` (base64 bytes, line-wrapped or not) and `audio_url` with a `data:` URL: always;
- `file://` URLs: only for regular files under `ServerSettings.audio_root` (after resolving links);
  the path is validated before the file system sees it;
- `http(s)://` URLs: only with `allow_remote_audio`, and never loopback/private addresses unless
  `allow_private_urls` (no server-side request forgery by default).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import socket
import threading
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alm.audio.formats import format_of_mime
from alm.conversation import Conversation, audio_part, text_part
from alm.errors import AlmError, AudioError
from alm.paths import check_input_file
from serve.errors import ApiError, bad_request, from_alm_error
from serve.protocol import AudioUrlPart, InputAudioPart, Message, TextPart
from serve.settings import ServerSettings

ROLE_MAP = {"developer": "system"}
_DECODING = threading.BoundedSemaphore(2)  # clips decoded at once, whatever the number of requests (memory)
MAX_PATH_BYTES = 4096  # PATH_MAX
MAX_NAME_BYTES = 255  # NAME_MAX: one path component
_SPACE = re.compile(r"\s")


@dataclass
class AudioSource:
    """One clip as it arrived: its bytes (or a local file), a name for error messages, and the format the
    client declared (None: the contents decide)."""

    data: bytes | Path
    name: str
    declared: str | None = None


def _declared(name: str, *formats: str | None) -> str | None:
    given = {f for f in formats if f}
    if len(given) > 1:
        raise bad_request(f"{name}: the format ({' and '.join(sorted(given))}) is declared twice, differently",
                          code="invalid_audio")
    return given.pop() if given else None


def _mime_format(header: str, name: str) -> str | None:
    """The format a data: URL's media type declares (`audio/mpeg;base64` -> mp3)."""
    try:
        return format_of_mime(header.split(";", 1)[0])
    except AudioError as exc:
        raise bad_request(f"{name}: {exc}", code="invalid_audio") from None


def _b64(data: str, name: str) -> bytes:
    """Base64 (also line-wrapped, as MIME and `base64` write it) -> bytes."""
    if _SPACE.search(data):
        data = _SPACE.sub("", data)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"{name}: the audio data is not valid base64") from None


def _data_url(url: str, name: str) -> tuple[bytes, str | None]:
    """-> (bytes, declared format)."""
    header, sep, payload = url[5:].partition(",")
    if not sep:
        raise bad_request(f"{name}: malformed data: URL (no comma)")
    if not header.endswith(";base64"):
        raise bad_request(f"{name}: only base64 data: URLs are supported (data:audio/wav;base64,...)")
    return _b64(payload, name), _mime_format(header, name)


def _local_path(url: str, name: str, settings: ServerSettings) -> Path:
    """A file:// URL -> a regular file under the audio root; the path is checked before the file system sees it."""
    if settings.audio_root is None:
        raise bad_request(f"{name}: file:// URLs are disabled on this server (start it with --audio-root DIR)")
    parsed = urllib.parse.urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise bad_request(f"{name}: file:// URLs must name a local path")
    raw = urllib.parse.unquote_to_bytes(parsed.path)
    if b"\x00" in raw:
        raise bad_request(f"{name}: the file:// path contains a NUL byte")
    if len(raw) > MAX_PATH_BYTES or any(len(part) > MAX_NAME_BYTES for part in raw.split(b"/")):
        raise bad_request(f"{name}: the file:// path is too long (at most {MAX_PATH_BYTES} bytes, "
                          f"{MAX_NAME_BYTES} per name)")
    if not raw.startswith(b"/"):
        raise bad_request(f"{name}: file:// URLs must hold an absolute path")
    root = Path(settings.audio_root).resolve()
    try:
        path = Path(os.fsdecode(raw)).resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links, or a name the OS refuses
        raise bad_request(f"{name}: the file:// path cannot be resolved") from None
    if not path.is_relative_to(root):
        raise bad_request(f"{name}: file:// URLs must point under the server's audio root")
    try:
        check_input_file(path, "audio file", AudioError)
    except AudioError as exc:
        reason = str(exc).split(": ", 1)[-1]
        raise bad_request(f"{name}: {reason}", code="invalid_audio") from None
    if path.stat().st_size > settings.max_body_bytes:
        raise bad_request(f"{name}: the file is larger than {settings.max_body_bytes} bytes")
    return path


def _check_public_host(host: str, port: int, name: str) -> None:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise bad_request(f"{name}: cannot resolve host {host!r}") from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global:
            raise bad_request(f"{name}: refusing to fetch from a non-public address ({addr})")


def _http_url(url: str, name: str, settings: ServerSettings) -> tuple[bytes, str | None]:
    """-> (bytes, the format the response's Content-Type declares)."""
    if not settings.allow_remote_audio:
        raise bad_request(f"{name}: remote audio URLs are not fetched by this server; send the audio inline "
                          "(input_audio or a data: URL), or start the server with --allow-remote-audio")
    import httpx

    try:
        parsed = urllib.parse.urlparse(url)
        host, port = parsed.hostname, parsed.port
    except ValueError:
        raise bad_request(f"{name}: malformed URL") from None
    if not host:
        raise bad_request(f"{name}: the URL has no host")
    if not settings.allow_private_urls:
        _check_public_host(host, port or (443 if parsed.scheme == "https" else 80), name)
    limit = settings.max_body_bytes
    try:
        with httpx.stream("GET", url, timeout=settings.remote_timeout_s, follow_redirects=False) as resp:
            if resp.status_code != 200:
                raise bad_request(f"{name}: fetching the URL gave HTTP {resp.status_code}")
            declared = _mime_format(resp.headers.get("content-type", ""), name)
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise bad_request(f"{name}: the remote file is larger than {limit} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise bad_request(f"{name}: cannot fetch the URL: {type(exc).__name__}") from None
    return b"".join(chunks), declared


def fetch_audio(part: InputAudioPart | AudioUrlPart, name: str, settings: ServerSettings) -> AudioSource:
    """The bytes (or local file) of one audio part and its declared format (blocking: may read the network)."""
    if isinstance(part, InputAudioPart):
        data, mime = part.input_audio.data, None
        if data.startswith("data:"):  # some clients send a data URL in input_audio.data
            header, _, data = data[5:].partition(",")
            mime = _mime_format(header, name)
        return AudioSource(_b64(data, name), name, _declared(name, part.input_audio.format, mime))
    url = part.audio_url.url.strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "data":
        data, declared = _data_url(url, name)
        return AudioSource(data, name, declared)
    if scheme == "file":
        return AudioSource(_local_path(url, name, settings), name)
    if scheme in ("http", "https"):
        data, declared = _http_url(url, name, settings)
        return AudioSource(data, name, declared)
    raise bad_request(f"{name}: unsupported URL scheme {scheme[:20] or '(none)'!r}; use data:, file: or http(s):")


def _text(text: str, where: str, audio_token: str) -> str:
    if audio_token in text:
        raise bad_request(f"{where}: the text may not contain {audio_token!r} (audio goes in input_audio or "
                          "audio_url parts)", param=where)
    return text


def to_conversation(messages: list[Message], settings: ServerSettings, audio_token: str,
                    max_clip_seconds: float | None = None) -> Conversation:
    """Validate and convert the messages; audio is fetched and decoded here (call from a worker thread).
    `max_clip_seconds`: the model's longest clip (`settings.limits.max_clip_seconds` may lower it)."""
    out: list[dict] = []
    audio: list[tuple[str, InputAudioPart | AudioUrlPart]] = []  # where each clip's part is, and the part
    for i, msg in enumerate(messages):
        role = ROLE_MAP.get(msg.role, msg.role)
        where = f"messages.{i}.content"
        if msg.content is None or isinstance(msg.content, str):
            out.append({"role": role, "content": _text(msg.content or "", where, audio_token)})
            continue
        parts = []
        for j, part in enumerate(msg.content):
            if isinstance(part, TextPart):
                parts.append(text_part(_text(part.text, f"{where}.{j}", audio_token)))
                continue
            if role != "user":
                raise bad_request(f"{where}.{j}: audio may only appear in user messages", param=f"{where}.{j}")
            audio.append((f"{where}.{j}", part))
            parts.append(audio_part())
        out.append({"role": role, "content": parts})
    if out[-1]["role"] == "assistant":
        raise bad_request("the last message must be from the user (or system), not the assistant", param="messages")
    if not any(m["role"] == "user" for m in out):
        raise bad_request("the conversation needs at least one user message", param="messages")
    budget = settings.limits.audio_budget(max_clip_seconds)
    try:
        settings.limits.check_messages(out)
        settings.limits.check_clip_count(len(audio))
    except AlmError as exc:
        raise from_alm_error(exc) from None
    clips: list[np.ndarray] = []
    for k, (where, part) in enumerate(audio, 1):
        name = f"audio clip {k} ({where})"
        try:
            budget.next_clip()
            source = fetch_audio(part, name, settings)
            with _DECODING:
                clips.append(budget.read(source.data, name, source.declared))
        except AlmError as exc:
            raise from_alm_error(exc, param=where) from None
        except ApiError as exc:
            exc.param = exc.param or where
            raise
    return Conversation(out, clips)
