"""Typed configuration files: a dataclass tree filled from a YAML or JSON mapping and `--set a.b=value`.

The one loader of alm's declarative files (training recipes, benchmark declarations). A file's keys
are a dataclass's fields, each with a one-line comment; values are coerced to the field types
(Literal, Optional, list, dict, nested dataclasses). Every problem raises `ConfigError` with a
one-line message naming the key; `errors_in(file)` puts the file's name in front.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
import textwrap
import tokenize
import types
import typing
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Literal, TypeVar, Union

import yaml

from alm.errors import AlmError

T = TypeVar("T")


class ConfigError(AlmError):
    """A config file or override is wrong: unknown or missing key, wrong type, bad value."""


@contextmanager
def errors_in(where: str | Path) -> Iterator[None]:
    """ConfigErrors raised inside name `where` (the file) first: `stage.yaml: lr: expected a number`."""
    try:
        yield
    except ConfigError as exc:
        raise type(exc)(f"{where}: {exc}") from None


# --------------------------------------------------------------------------- typed filling
def type_name(tp: Any) -> str:
    """How a type reads in an error message: `an integer`, `mlp | pool`, `a list of a string`."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(map(str, typing.get_args(tp)))
    if origin in (Union, types.UnionType):
        return " or ".join("null" if a is type(None) else type_name(a) for a in typing.get_args(tp))
    if origin is list:
        item = typing.get_args(tp)[0]
        plural = {int: "integers", float: "numbers", str: "strings", bool: "true/false values"}
        return f"a list of {plural[item]}" if item in plural else f"a list of ({type_name(item)})"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a section (mapping)"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, str(tp))


def _coerce_union(value: Any, tp: Any, key: str) -> Any:
    args = typing.get_args(tp)
    if value is None and type(None) in args:
        return None
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return coerce(value, arg, key)
        except ConfigError as exc:
            errors.append(exc)
    raise errors[0] if len(errors) == 1 else ConfigError(f"{key}: expected {type_name(tp)}, got {value!r}")


def _coerce_scalar(value: Any, tp: type, key: str) -> Any:
    accepted = {bool: (bool,), int: (int, str), float: (int, float, str), str: (str, int, float)}[tp]
    if not isinstance(value, accepted) or (isinstance(value, bool) and tp is not bool):
        raise ConfigError(f"{key}: expected {type_name(tp)}, got {value!r}")
    try:
        return tp(value)  # YAML reads 1e-3 (no dot) as a string: float("1e-3")
    except ValueError:
        raise ConfigError(f"{key}: expected {type_name(tp)}, got {value!r}") from None


def coerce(value: Any, tp: Any, key: str) -> Any:
    """`value` as type `tp`, or ConfigError naming `key`. A string given for a list is split at commas."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return fill(tp, value, key + ".")
    if origin in (Union, types.UnionType):
        return _coerce_union(value, tp, key)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{key}: must be one of {', '.join(map(str, typing.get_args(tp)))}, got {value!r}")
        return value
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected {type_name(tp)}, got {value!r}")
        return [coerce(v, typing.get_args(tp)[0], f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        _, vt = typing.get_args(tp)
        return {str(k): coerce(v, vt, f"{key}.{k}") for k, v in value.items()}
    if tp in (bool, int, float, str):
        return _coerce_scalar(value, tp, key)
    raise TypeError(f"unsupported config type {tp!r} for {key}")


def fill(cls: type[T], data: Any, prefix: str = "") -> T:
    """An instance of dataclass `cls` from a mapping: keys checked, values coerced, defaults for the rest.

    Fields with `init=False` are not keys (the program sets them). `prefix` is the section's dotted path.
    """
    if not isinstance(data, dict):
        where = f"{prefix[:-1]}: " if prefix else ""
        raise ConfigError(f"{where}expected a mapping of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = [f for f in dataclasses.fields(cls) if f.init]
    names = [f.name for f in fields]
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown key '{prefix}{key}'; known keys: {', '.join(names)}")
    for f in fields:
        if f.name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{prefix}{f.name}: required")
    return cls(**{k: coerce(v, hints[k], prefix + k) for k, v in data.items()})


# --------------------------------------------------------------------------- files and overrides
def read_mapping(path: str | Path) -> dict:
    """The top-level mapping of a YAML file (JSON when the name ends in .json); errors name the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if path.suffix == ".json" else "YAML"
        raise ConfigError(f"{path}: not valid {kind}: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    return data


def parse_override(text: str) -> tuple[list[str], Any]:
    """`data.max_samples=100` -> (["data", "max_samples"], 100); the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set lr=1e-3")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        value = raw
    return parts, value


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """A copy of `data` with each `a.b=value` set (sections created as needed; the input is not changed)."""
    data = dict(data)
    for text in overrides:
        parts, value = parse_override(text)
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            node[part] = dict(child) if isinstance(child, dict) else {}
            node = node[part]
        node[parts[-1]] = value
    return data


# --------------------------------------------------------------------------- documentation
def source_comments(cls: type) -> dict[str, str]:
    """The comments of a class's annotated fields, read from its source: `name: int = 1  # text` -> text, with the
    comment-only lines right below it (no blank line between) joined on as its continuation."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    out: dict[str, str] = {}
    depth, line, last, commented = 0, [], None, False
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        field = depth == 1 and len(line) >= 2 and line[1] == ":"
        if tok.type == tokenize.INDENT:
            depth += 1
        elif tok.type == tokenize.DEDENT:
            depth -= 1
        elif tok.type == tokenize.NEWLINE:
            last = line[0] if field and line[0] in out else None
            line, commented = [], False
        elif tok.type == tokenize.COMMENT and depth == 1:
            text = tok.string.lstrip("#").strip()
            if field:
                out.setdefault(line[0], text)
            elif not line and last is not None:  # a comment-only line continuing the field's comment
                out[last] += " " + text
            commented = True
        elif tok.type == tokenize.NL:
            if not line and not commented:  # a blank line ends a field's comment
                last = None
            commented = False
        else:
            line.append(tok.string)
    return out


def field_docs(cls: type) -> dict[str, str]:
    """Each field's one-line description: `metadata["doc"]` where given, else the field's source comment."""
    comments = source_comments(cls)
    return {f.name: f.metadata.get("doc") or comments.get(f.name, "") for f in dataclasses.fields(cls) if f.init}


def describe_keys(cls: type, prefix: str = "") -> list[str]:
    """One line per key of a config file, sections expanded: `model.lora_r: an integer or null = None  # ...`."""
    hints, docs, lines = typing.get_type_hints(cls), field_docs(cls), []
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if dataclasses.is_dataclass(hints[f.name]):
            lines += describe_keys(hints[f.name], f"{prefix}{f.name}.")
            continue
        if f.default is not dataclasses.MISSING:
            default = f" = {f.default!r}"
        elif f.default_factory is not dataclasses.MISSING:
            default = f" = {f.default_factory()!r}"
        else:
            default = " (required)"
        doc = f"  # {docs[f.name]}" if docs[f.name] else ""
        lines.append(f"{prefix}{f.name}: {type_name(hints[f.name])}{default}{doc}")
    return lines
