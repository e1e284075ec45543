"""OpenAI chat messages with audio parts -> an alm `Conversation` (content parts + decoded clips).

Each message keeps its parts in order (audio parts become `{"type": "audio"}`, their clips decoded
into `Conversation.audios`); how parts become prompt text is left to the chat template, exactly as
for training records, `alm ask` and vLLM. Where audio may come from:
- `input_audio` (base64 bytes) and `audio_url` with a `data:` URL: always;
- `file://` URLs: only for files under `ServerSettings.audio_root` (after resolving links);
- `http(s)://` URLs: only with `allow_remote_audio`, and never loopback/private addresses unless
  `allow_private_urls` (no server-side request forgery by default).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import socket
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from alm.audio.io import decode_audio_bytes
from alm.errors import AlmError
from alm.conversation import Conversation, audio_part, text_part
from serve.errors import bad_request
from serve.protocol import AudioUrlPart, InputAudioPart, Message, TextPart
from serve.settings import ServerSettings

ROLE_MAP = {"developer": "system"}


@dataclass
class AudioSource:
    """One clip as it arrived: its bytes (already fetched) and a name for error messages."""

    data: bytes
    name: str


def _b64(data: str, name: str) -> bytes:
    if data.startswith("data:"):  # some clients send a data URL in input_audio.data
        data = data.partition(",")[2]
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise bad_request(f"{name}: the audio data is not valid base64") from None


def _data_url(url: str, name: str) -> bytes:
    header, sep, payload = url[5:].partition(",")
    if not sep:
        raise bad_request(f"{name}: malformed data: URL (no comma)")
    if not header.endswith(";base64"):
        raise bad_request(f"{name}: only base64 data: URLs are supported (data:audio/wav;base64,...)")
    return _b64(payload, name)


def _file_url(url: str, name: str, settings: ServerSettings) -> bytes:
    if settings.audio_root is None:
        raise bad_request(f"{name}: file:// URLs are disabled on this server (start it with --audio-root DIR)")
    parsed = urllib.parse.urlparse(url)
    if parsed.netloc not in ("", "localhost"):
        raise bad_request(f"{name}: file:// URLs must name a local path")
    root = Path(settings.audio_root).resolve()
    path = Path(urllib.parse.unquote(parsed.path)).resolve()
    if not path.is_relative_to(root):
        raise bad_request(f"{name}: file:// URLs must point under the server's audio root")
    if not path.is_file():
        raise bad_request(f"{name}: no such file under the audio root")
    if path.stat().st_size > settings.max_body_bytes:
        raise bad_request(f"{name}: the file is larger than {settings.max_body_bytes} bytes")
    return path.read_bytes()


def _check_public_host(host: str, port: int, name: str) -> None:
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror:
        raise bad_request(f"{name}: cannot resolve host {host!r}") from None
    for info in infos:
        addr = ipaddress.ip_address(info[4][0])
        if not addr.is_global:
            raise bad_request(f"{name}: refusing to fetch from a non-public address ({addr})")


def _http_url(url: str, name: str, settings: ServerSettings) -> bytes:
    if not settings.allow_remote_audio:
        raise bad_request(f"{name}: remote audio URLs are not fetched by this server; send the audio inline "
                          "(input_audio or a data: URL), or start the server with --allow-remote-audio")
    import httpx

    parsed = urllib.parse.urlparse(url)
    if not parsed.hostname:
        raise bad_request(f"{name}: the URL has no host")
    if not settings.allow_private_urls:
        _check_public_host(parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80), name)
    limit = settings.max_body_bytes
    try:
        with httpx.stream("GET", url, timeout=settings.remote_timeout_s, follow_redirects=False) as resp:
            if resp.status_code != 200:
                raise bad_request(f"{name}: fetching the URL gave HTTP {resp.status_code}")
            chunks, size = [], 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise bad_request(f"{name}: the remote file is larger than {limit} bytes")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise bad_request(f"{name}: cannot fetch the URL: {type(exc).__name__}") from None
    return b"".join(chunks)


def fetch_audio(part: InputAudioPart | AudioUrlPart, name: str, settings: ServerSettings) -> AudioSource:
    """The bytes of one audio part (blocking: may read a file or the network)."""
    if isinstance(part, InputAudioPart):
        return AudioSource(_b64(part.input_audio.data, name), name)
    url = part.audio_url.url.strip()
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "data":
        return AudioSource(_data_url(url, name), name)
    if scheme == "file":
        return AudioSource(_file_url(url, name, settings), name)
    if scheme in ("http", "https"):
        return AudioSource(_http_url(url, name, settings), name)
    raise bad_request(f"{name}: unsupported URL scheme {scheme or '(none)'!r}; use data:, file: or http(s):")


def _text(text: str, where: str, audio_token: str) -> str:
    if audio_token in text:
        raise bad_request(f"{where}: the text may not contain {audio_token!r} (audio goes in input_audio or "
                          "audio_url parts)", param=where)
    return text


def to_conversation(messages: list[Message], settings: ServerSettings, audio_token: str) -> Conversation:
    """Validate and convert the messages; audio is fetched and decoded here (call from a worker thread)."""
    out: list[dict] = []
    clips: list[np.ndarray] = []
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
            if len(clips) >= settings.max_clips:
                raise bad_request(f"too many audio clips: at most {settings.max_clips} per request")
            name = f"audio clip {len(clips) + 1} ({where}.{j})"
            source = fetch_audio(part, name, settings)
            try:
                clips.append(decode_audio_bytes(source.data, name))
            except AlmError as exc:
                raise bad_request(str(exc), param=f"{where}.{j}", code="invalid_audio") from None
            parts.append(audio_part())
        out.append({"role": role, "content": parts})
    if out[-1]["role"] == "assistant":
        raise bad_request("the last message must be from the user (or system), not the assistant", param="messages")
    if not any(m["role"] == "user" for m in out):
        raise bad_request("the conversation needs at least one user message", param="messages")
    return Conversation(out, clips)
