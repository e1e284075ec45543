"""The independent out-of-domain sets' maps (scripts/independent_ood/sets/*.tsv), which build.sh turns into folders:
each line a source path and a label the tagger knows, each path under a package the map declares, no path twice, and
each set a folder that an `independent` benchmark reads."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SETS = sorted((REPO / "scripts/independent_ood/sets").glob("*.tsv"))


def _read(path: Path) -> tuple[list[tuple[str, str, str, str]], list[tuple[str, str]]]:
    """(packages: name, version, tag, prefix), (clips: source, label)."""
    packages, clips = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#@ "):
            kind, *fields = line[3:].split()
            assert kind == "package" and len(fields) == 4, line
            packages.append(tuple(fields))
        elif line.strip() and not line.startswith("#"):
            source, label = line.split("\t")
            clips.append((source, label))
    return packages, clips


def test_every_set_maps_known_labels_from_declared_packages():
    names = set(json.loads((REPO / "alm/pretrained/alm-tiny/tagger.json").read_text())["names"])
    assert len(SETS) >= 2
    for path in SETS:
        packages, clips = _read(path)
        assert packages and clips, path.name
        prefixes = [prefix for *_, prefix in packages]
        for source, label in clips:
            assert label in names, (path.name, label)
            assert any(source.startswith(p) for p in prefixes), (path.name, source)
        sources = [source for source, _ in clips]
        assert len(sources) == len(set(sources)), path.name


def test_every_set_is_read_by_an_independent_benchmark():
    folders = set()
    for spec in (REPO / "eval/benchmarks").glob("independent*.yaml"):
        decl = yaml.safe_load(spec.read_text())
        assert decl["suites"] == ["independent"] and "build.sh" in decl["obtain"]
        folders.add(decl["data"]["folder"])
    assert folders == {path.stem for path in SETS}
