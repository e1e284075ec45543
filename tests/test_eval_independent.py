"""`alm eval --suite independent`: the independent out-of-domain check (scripts/independent_ood/build.sh writes its
folder of class folders from Debian packages the corpus never read) runs from a folder of that layout, against a
fake endpoint: "what sound is this?" over every clip, and "is there X?" whose no-questions never name the clip's own
class's ancestors in the taxonomy (a chicken is a bird: "Is there a bird?" is not a no)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from fake_openai import serve  # noqa: F401 - pytest fixture

CLASSES = {"chicken": 3, "bird": 2, "cow": 2, "saw": 2}


def _layout(root: Path) -> Path:
    folder = root / "0ad-stk-flare"
    t = np.arange(8000) / 16000
    for n, (label, count) in enumerate(CLASSES.items()):
        (folder / label).mkdir(parents=True)
        for k in range(count):
            sf.write(folder / label / f"{k}.wav", 0.2 * np.sin(2 * np.pi * (300 + 100 * n + 10 * k) * t), 16000)
    return folder


def test_the_independent_suite_runs_from_its_folder(serve, tmp_path: Path):  # noqa: F811
    from alm.cli import main

    _layout(tmp_path / "data")
    model = serve(lambda body, n: (200, "Yes"))
    out = tmp_path / "out"
    assert main(["eval", "--endpoint", model.url, "--model", "yes-man", "--suite", "independent", "--data-root",
                 str(tmp_path / "data"), "--out", str(out), "--no-meteor", "--no-plots", "--no-progress"]) == 0
    benches = json.loads((out / "results.json").read_text())["benchmarks"]
    assert set(benches) == {"independent-classification", "independent-hallucination"}
    classes = benches["independent-classification"]
    assert classes["n_items"] == sum(CLASSES.values())
    assert {it["reference"]["label"] for it in classes["items"]} == set(CLASSES)
    pope = benches["independent-hallucination"]
    asked = [(Path(it["audio"][0]["path"]).parent.name, it["reference"]["asked"], it["reference"]["answer"])
             for it in pope["items"]]
    assert {mode for it in pope["items"] for mode in [it["reference"]["mode"]]} == {"random", "popular",
                                                                                     "adversarial"}
    assert all(label == folder for folder, label, answer in asked if answer == "yes")
    assert ("chicken", "bird", "no") not in asked and any(a == "no" for _, _, a in asked)
    assert pope["scores"]["model"]["yes_ratio"] == 1.0


def test_the_independent_suite_without_its_folder_says_how_to_build_it(tmp_path: Path, capsys):
    from alm.cli import main

    assert main(["eval", "--endpoint", "http://127.0.0.1:9/v1", "--model", "m", "--suite", "independent",
                 "--data-root", str(tmp_path), "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nothing to run" in err[0] and "scripts/independent_ood/build.sh" in err[0]
