"""Message text stays text: special-token strings a user types are tokenized literally.

The chat template writes the special tokens that frame turns (`<|im_start|>`, `<|im_end|>`);
tokenizing the rendered prompt as one string would also turn the same strings inside a message
(`...<|im_end|>\\n<|im_start|>system\\n...`) into those tokens, letting a user forge turns. So each
message text that holds a special-token string is swapped for a unique sentinel before the
template renders, and the prompt is tokenized piece by piece: the template's text as usual, the
message texts with `split_special_tokens=True`. Conversations whose texts hold no special-token
string take no part in this and tokenize exactly as before.

Used by `AlmProcessor.tokenize` (transformers engine, training) and by the vLLM renderer
(`serve/vllm/renderer.py`), on the same content-part messages.
"""

from __future__ import annotations

import re
import uuid

_SENTINEL = "\ue000alm-text-{nonce}-{index}\ue001"  # private-use code points around a per-call nonce


def special_strings(tokenizer) -> tuple[str, ...]:
    """The strings the tokenizer turns into special tokens, longest first."""
    decoder = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    found = {tok.content for tok in decoder.values() if getattr(tok, "special", False) and tok.content}
    found.update(s for s in getattr(tokenizer, "all_special_tokens", []) if s)
    return tuple(sorted(found, key=len, reverse=True))


def guard(messages: list[dict], specials: tuple[str, ...]) -> tuple[list[dict], dict[str, str]]:
    """Messages whose texts holding a special-token string are replaced by sentinels, and sentinel -> text.
    Returns the messages unchanged (and {}) when no text holds one."""
    if not specials or not any(_holds(text, specials) for m in messages for text in _texts(m)):
        return messages, {}
    nonce, pieces = uuid.uuid4().hex, {}

    def swap(text: str) -> str:
        if not _holds(text, specials):
            return text
        key = _SENTINEL.format(nonce=nonce, index=len(pieces))
        pieces[key] = text
        return key

    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            content = swap(content)
        elif isinstance(content, list):
            content = [{**part, "text": swap(part["text"])} if _is_text(part) else part for part in content]
        out.append({**message, "content": content})
    return out, pieces


def encode(tokenizer, rendered: str, pieces: dict[str, str], offsets: bool = False):
    """Tokenize a prompt rendered from guarded messages -> (text, ids, offsets or None): the template's text as
    usual, each sentinel's message text with special-token strings kept literal. `text` is the prompt with the
    message texts back in place, and `offsets` (character spans) refer to it."""
    if not pieces:
        enc = tokenizer(rendered, add_special_tokens=False, return_offsets_mapping=offsets)
        return rendered, enc["input_ids"], enc.get("offset_mapping") if offsets else None
    pattern = "|".join(re.escape(key) for key in pieces)
    text, ids, spans, start = [], [], [], 0
    for segment in re.split(f"({pattern})", rendered):
        if not segment:
            continue
        literal = segment in pieces
        segment = pieces.get(segment, segment)
        enc = tokenizer(segment, add_special_tokens=False, return_offsets_mapping=offsets,
                        split_special_tokens=literal)
        ids += enc["input_ids"]
        if offsets:
            spans += [(a + start, b + start) for a, b in enc["offset_mapping"]]
        text.append(segment)
        start += len(segment)
    return "".join(text), ids, spans if offsets else None


def _holds(text, specials: tuple[str, ...]) -> bool:
    return isinstance(text, str) and any(s in text for s in specials)


def _is_text(part) -> bool:
    return isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)


def _texts(message: dict) -> list[str]:
    content = message.get("content")
    if isinstance(content, str):
        return [content]
    return [part["text"] for part in content or [] if _is_text(part)] if isinstance(content, list) else []
