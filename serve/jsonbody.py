"""Request bodies as JSON, validated at the edge: nothing in them can crash or stall the parser.

Python's `json` would raise RecursionError on deeply nested input, ValueError on integers of
thousands of digits, accept NaN and Infinity, and hand lone surrogates (`"\\ud800"`) to code that
cannot encode them. Here each of those is a 400 that says what is wrong: depth, element count and
number size are bounded, non-finite numbers refused, and every string must be valid Unicode.
"""

from __future__ import annotations

import json
import re
from typing import Any

from serve.errors import bad_request

MAX_DEPTH = 32  # a chat request needs 6 (body, messages, message, content, part, input_audio)
MAX_VALUES = 50_000  # JSON values in one body (a chat request with hundreds of messages has a few thousand)
MAX_NUMBER_CHARS = 32  # digits of a number (int64 needs 20); longer ones are refused, never converted
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Refused(ValueError):
    """Raised from the parser's hooks; its message is the client's."""


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number in the body has {len(text)} characters; at most {MAX_NUMBER_CHARS} are accepted")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"a number in the body has {len(text)} characters; at most {MAX_NUMBER_CHARS} are accepted")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise _Refused(f"the number {text} is out of range")
    return value


def _constant(name: str):
    raise _Refused(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """Bytes -> a JSON value, or ApiError(400) naming the problem."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise bad_request(f"the request body is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except _Refused as exc:
        raise bad_request(str(exc)) from None
    except RecursionError:
        raise bad_request(f"the request body is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except (json.JSONDecodeError, ValueError) as exc:
        raise bad_request(f"the request body is not valid JSON: {exc}") from None
    _check(value)
    return value


def _check(root: Any) -> None:
    """Depth, size and valid strings, without recursion."""
    stack, seen = [(root, 1)], 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise bad_request(f"the request body has more than {MAX_VALUES:,} JSON values")
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise bad_request(f"the request body is nested too deeply (at most {MAX_DEPTH} levels)")
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key)
                    stack.append((item, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in value)


def _check_text(text: str) -> None:
    if not text.isascii() and _SURROGATE.search(text):
        raise bad_request("the request holds text with a lone UTF-16 surrogate (e.g. \\ud800), which is not valid "
                          "Unicode; send valid UTF-8 text")
