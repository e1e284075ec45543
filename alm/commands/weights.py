"""`alm weights`: prepare (convert) the built-in offline base weights, or list their state."""

from __future__ import annotations

import argparse

from alm.weights import BUILTIN_BASES, converted_dir, get_source, is_prepared
from alm.weights.resolve import timed_prepare


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    prepare = actions.add_parser("prepare", help="verify and convert built-in bases (default: all)")
    prepare.add_argument("names", nargs="*", metavar="NAME", help=f"any of: {', '.join(BUILTIN_BASES)}")
    actions.add_parser("list", help="show each built-in base: converted or not, folder, licence")


def _prepare(names: list[str]) -> int:
    sources = [get_source(name) for name in names or BUILTIN_BASES]
    for source in sources:
        folder, seconds, converted = timed_prepare(source)
        what = "converted" if converted else "already converted"
        print(f"{source.name}: {what} in {seconds:.1f} s -> {folder}")
    return 0


def _list() -> int:
    for source in BUILTIN_BASES.values():
        status = "converted" if is_prepared(source) else "not converted"
        print(f"{source.name}\t{status}\t{converted_dir(source)}\t{source.licence}")
    return 0


def run(args: argparse.Namespace) -> int:
    return _prepare(args.names) if args.action == "prepare" else _list()
