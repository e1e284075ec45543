"""The typed-dataclass loader shared by training recipes and benchmark declarations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from alm.errors import AlmError
from alm.typed_config import (ConfigError, apply_overrides, describe_keys, errors_in, field_docs, fill, read_mapping,
                              source_comments)


@dataclass
class Inner:
    size: int = 1  # how big
    kinds: list[Literal["a", "b"]] = field(default_factory=list)  # which kinds


@dataclass
class Outer:
    name: str  # required: no default
    inner: Inner = field(default_factory=Inner)  # a nested section
    rate: float | None = None  # optional number
    weights: dict[str, float] = field(default_factory=dict)  # name -> weight
    on: bool = False  # a switch
    path: str = field(default="", init=False)  # set by the program, not a key


def test_fill_coerces_nested_sections_and_keeps_defaults():
    got = fill(Outer, {"name": 7, "inner": {"size": "3", "kinds": "a, b"}, "rate": "1e-3", "weights": {"x": 2}})
    assert got == Outer(name="7", inner=Inner(size=3, kinds=["a", "b"]), rate=1e-3, weights={"x": 2.0})
    assert fill(Outer, {"name": "n", "rate": None}).inner == Inner()


@pytest.mark.parametrize("data, message", [
    ({"name": "n", "colour": 1}, "unknown key 'colour'; known keys: name, inner, rate, weights, on"),
    ({"name": "n", "inner": {"sise": 1}}, "unknown key 'inner.sise'; known keys: size, kinds"),
    ({"name": "n", "path": "x"}, "unknown key 'path'"),
    ({}, "name: required"),
    ({"name": "n", "inner": 3}, "inner: expected a mapping of keys, got 3"),
    ({"name": "n", "inner": {"kinds": ["a", "c"]}}, "inner.kinds[1]: must be one of a, b, got 'c'"),
    ({"name": "n", "rate": "fast"}, "rate: expected a number, got 'fast'"),
    ({"name": "n", "on": "yes"}, "on: expected true or false, got 'yes'"),
    ({"name": "n", "inner": {"size": 2.5}}, "inner.size: expected an integer, got 2.5"),
    ({"name": "n", "inner": {"size": True}}, "inner.size: expected an integer, got True"),
    ({"name": "n", "weights": {"x": "heavy"}}, "weights.x: expected a number"),
])
def test_errors_name_the_key(data, message):
    with pytest.raises(ConfigError) as info:
        fill(Outer, data)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_errors_in_names_the_file_and_stays_an_alm_error():
    with pytest.raises(ConfigError) as info, errors_in("my.yaml"):
        fill(Outer, {"name": "n", "rate": "x"})
    assert str(info.value).startswith("my.yaml: rate: ") and isinstance(info.value, AlmError)


def test_overrides_are_yaml_and_do_not_touch_the_input():
    data = {"inner": {"size": 1}}
    out = apply_overrides(data, ["inner.size=4", "inner.kinds=[a, b]", "rate=null", "name=x=y"])
    assert out == {"inner": {"size": 4, "kinds": ["a", "b"]}, "rate": None, "name": "x=y"}
    assert data == {"inner": {"size": 1}}
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides({}, ["rate"])


def test_read_mapping_yaml_and_json(tmp_path):
    (tmp_path / "a.yaml").write_text("name: x\ninner: {size: 2}\n")
    (tmp_path / "a.json").write_text('{"name": "x"}')
    assert read_mapping(tmp_path / "a.yaml") == {"name": "x", "inner": {"size": 2}}
    assert read_mapping(tmp_path / "a.json") == {"name": "x"}
    for name, text, message in (("b.yaml", "name: [1,\n", "not valid YAML"), ("b.json", "{", "not valid JSON"),
                                ("c.yaml", "- 1\n", "expected a mapping of keys at the top level"),
                                ("missing.yaml", None, "cannot read")):
        if text is not None:
            (tmp_path / name).write_text(text)
        with pytest.raises(ConfigError) as info:
            read_mapping(tmp_path / name)
        assert str(info.value).startswith(str(tmp_path / name)) and message in str(info.value)
        assert "\n" not in str(info.value)


@dataclass
class Continued:
    mode: str = "a"  # how it runs: a is the
    # usual way, b the other
    after_blank: int = 0  # its own text

    # a section heading, not a continuation
    last: int = 1  # last


def test_comment_lines_below_a_field_continue_its_doc_until_a_blank_line():
    assert source_comments(Continued) == {"mode": "how it runs: a is the usual way, b the other",
                                          "after_blank": "its own text", "last": "last"}


def test_docs_come_from_field_comments():
    assert source_comments(Inner) == {"size": "how big", "kinds": "which kinds"}
    assert field_docs(Outer)["rate"] == "optional number" and "path" not in field_docs(Outer)
    lines = describe_keys(Outer)
    assert "name: a string (required)  # required: no default" in lines
    assert "inner.kinds: a list of (a | b) = []  # which kinds" in lines
    assert "rate: a number or null = None  # optional number" in lines
