"""Multiple-choice items: their reference, our prompt where the authors pin none, and reading a
JSON list of them (MMAU, MMAR).

A multiple-choice item keeps `reference = {"question", "choices", "answer", "answer_index"}`:
the question without choices, the choices in the order asked, the correct choice's text and its
position. `Item.question` is the prompt rendered from the first two by the benchmark's `render`
function (`Render`), so a reordering of the choices (`eval.public.permute`) re-renders it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from eval.data import AudioRef, Item
from eval.public.common import Loaded, audio_path, first_file, read_records, release_of
from instruction_data.errors import DataError

Render = Callable[[str, list[str]], str]  # (question, choices in order) -> prompt text


def text_choice_prompt(question: str, choices: Sequence[str]) -> str:
    """Our prompt for MMAU and MMAR, whose authors publish a scorer but no prompt.

    Their scorer reads the answer's words, not a letter, so the choices are listed without
    letters and the model is asked for the text of one.
    """
    return f"{question}\nChoices:\n" + "\n".join(choices) + "\nAnswer with the exact text of the correct choice."


def mc_reference(question: str, choices: Sequence[str], answer: str, where: str) -> dict[str, Any]:
    """The reference of a multiple-choice item; a DataError (naming `where`) when the answer is not a choice."""
    choices = [str(c) for c in choices]
    if answer not in choices:
        raise DataError(f"{where}: the answer {answer!r} is not one of its choices {choices}")
    return {"question": question, "choices": choices, "answer": answer, "answer_index": choices.index(answer)}


def load_mc(root: Path, names: tuple[str, ...], dataset: str, audio_key: str, fields: tuple[str, ...],
            releases: dict[str, str], render: Render) -> Loaded:
    """Items of a JSON(L) list of {"id", audio_key, "question", "choices", "answer", *fields} named one
    of `names` in `root`: audio paths are relative to the file's folder; `info` keeps `fields` (a
    list value is read as its first element) and the first field is the --limit stratum."""
    meta = first_file(Path(root), names, dataset)
    items, missing = [], []
    for n, rec in enumerate(read_records(meta)):
        if "answer" not in rec:
            raise DataError(f"{meta}: item {rec.get('id', n)} has no answer (a split without answers cannot be scored)")
        ref = mc_reference(rec["question"], rec["choices"], rec["answer"], f"{meta} item {rec.get('id', n)}")
        path = audio_path(meta.parent, rec[audio_key])
        if path is None:
            missing.append(str(rec["id"]))
            continue
        info = {"dataset": dataset, **{f: _first(rec.get(f)) for f in fields}}
        items.append(Item(str(rec["id"]), [AudioRef(str(path))], render(ref["question"], ref["choices"]), ref,
                          stratum=str(info[fields[0]]), info=info))
    return Loaded(items, str(meta), release_of(meta, releases), missing)


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value
