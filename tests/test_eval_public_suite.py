"""`alm eval --suite public --data-root DIR` on a folder holding only the fake published layouts
(tests/assets/eval_public), against a fake OpenAI-compatible endpoint: every benchmark whose data is
there runs end to end (k orders of the choices, the mismatched-audio baseline, the LLM judge on the
open-ended ones), the others are listed with where to get them, and the report puts the anchors'
published numbers beside ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fake_openai import serve  # noqa: F401 - pytest fixture

ROOT = Path(__file__).parent / "assets" / "eval_public"
READ = {"mmau", "mmar", "air-bench-foundation", "cmm", "audiocaps-pope", "clotho-aqa"}


def deaf_reply(body: dict, n: int) -> tuple[int, str]:
    """A model that ignores the audio: the first listed choice, "A", or "Yes"."""
    content = body["messages"][-1]["content"]
    text = content if isinstance(content, str) else content[-1]["text"]
    lines = text.splitlines()
    if "Choices:" in lines:
        return 200, lines[lines.index("Choices:") + 1]
    return 200, "A" if text.startswith("Choose the most suitable answer") else "Yes"


def test_public_suite_on_the_fake_layouts(serve, tmp_path: Path, capsys):
    from alm.cli import main

    model, judge = serve(deaf_reply), serve(lambda body, n: (200, "Rating: 7"))
    out = tmp_path / "public"
    args = ["eval", "--endpoint", model.url, "--model", "deaf", "--suite", "public", "--data-root", str(ROOT),
            "--out", str(out), "--permutations", "2", "--no-meteor", "--judge-endpoint", judge.url,
            "--judge-model", "judge-x", "--judge-api-key", "judge-secret"]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    benches = results["benchmarks"]
    assert set(benches) == READ
    assert set(results["skipped"]) == {"esc50", "urbansound8k", "vggsound", "speech-commands", "fsd50k",
                                       "fsd50k-pope", "audiocaps", "clotho"}
    assert "karolpiczak/ESC-50" in results["skipped"]["esc50"]["obtain"]
    for name, b in benches.items():
        assert {"model", "no_audio", "mismatched_audio", "chance", "majority"} <= set(b["scores"]), name
        head = b["headline"]
        # the same answer with its own clip, another clip or none: nothing shows it listened
        assert head["model"] == head["no_audio"] == head["mismatched_audio"], name
        assert head["listens"] is False and head["beats_mismatched"] is False, name
        assert all(it["mismatched_audio"]["audio"] != it["audio"] for it in b["items"]), name
    # hand-computed: CMM always yes, POPE always yes, AIR-Bench always A, Clotho-AQA always yes
    assert benches["cmm"]["scores"]["model"]["perception_accuracy"] == 1.0
    assert benches["cmm"]["skipped_items"] == {"needs video": 1} and benches["cmm"]["missing_audio"]["count"] == 1
    assert benches["audiocaps-pope"]["scores"]["model"]["f1"] == 0.0
    assert benches["audiocaps-pope"]["scores"]["model"]["yes_ratio"] == 1.0
    assert benches["clotho-aqa"]["scores"]["model"]["accuracy"] == pytest.approx(2 / 12)
    air = benches["air-bench-foundation"]
    assert air["permutations"] == 2 and air["n_asked"] == 6 and len(air["items"]) == 6
    assert air["breakdown"]["permutations"]["spread"]["model"]["accuracy"]["n"] == 2
    assert benches["mmau"]["n_items"] == 3 and benches["mmau"]["items"][3]["id"] == "m1#p1"
    # the judge rated the open-ended answers (Clotho-AQA); its model, prompt and temperature are recorded
    assert benches["clotho-aqa"]["scores"]["model"]["judge_score"] == 7.0
    assert benches["clotho-aqa"]["scores"]["mismatched_audio"]["judge_score"] == 7.0
    assert "judge_score" not in benches["mmau"]["scores"]["model"]
    recorded = results["settings"]["judge"]
    assert recorded["model"] == "judge-x" and recorded["temperature"] == 0.0 and "{answer}" in recorded["prompt"]
    assert all(auth == "Bearer judge-secret" for _, auth, _ in judge.requests)
    assert "judge-secret" not in (out / "results.json").read_text()
    # anchors beside ours, marked where the protocols differ
    mmau_rows = benches["mmau"]["anchors"]
    af3 = next(r for r in mmau_rows if r["system"] == "Audio Flamingo 3")
    ours = 100 * benches["mmau"]["scores"]["model"]["accuracy"]
    assert af3["published"] == 73.3 and af3["ours"] == pytest.approx(ours, abs=0.05)
    assert any("prompt is ours" in d for d in af3["differences"])
    assert any("v05.15.25" in d for d in af3["differences"])  # a fake, not the release
    binary = next(r for r in benches["clotho-aqa"]["anchors"] if r["metric"] == "binary accuracy")
    assert binary["ours"] == pytest.approx(100 * benches["clotho-aqa"]["scores"]["model"]["binary_accuracy"], abs=0.05)
    pope = benches["audiocaps-pope"]["anchors"]
    assert {r["setting"] for r in pope} == {"random negatives", "adversarial negatives"}
    assert all(r["ours"] == 0.0 for r in pope)  # per-mode F1 of "no": never said
    report = (out / "report.md").read_text()
    assert report.index("## Proof of listening") < report.index("## Summary") < report.index("## Published numbers")
    assert "**⚠ mmau**" in report and "mismatched audio" in report and "≠ [1]" in report
    assert "## Not run: data not found" in report and "zenodo.org/record/4783391" in report
    assert "Over 2 orders of the choices" in report and "Spread over the prompt wordings" in report
    assert (out / "plots" / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "plots" / "mmau-permutations.png").is_file()
    # a rerun asks neither the model nor the judge again
    asked, judged = len(model.requests), len(judge.requests)
    assert main(args + ["--no-plots"]) == 0
    assert (len(model.requests), len(judge.requests)) == (asked, judged)
    text = capsys.readouterr().out
    assert "not run: esc50" in text and "mismatched" in text


def test_public_benchmark_named_without_its_folder_is_an_error(tmp_path: Path, capsys):
    from alm.cli import main

    base = ["eval", "--endpoint", "http://127.0.0.1:9/v1", "--out", str(tmp_path / "o")]
    assert main([*base, "--benchmark", "mmau", "--data-root", str(tmp_path)]) == 1
    assert "mmau: needs the mmau folder: --data mmau=PATH or --data-root DIR" in capsys.readouterr().err
    assert main([*base, "--suite", "public", "--data-root", str(ROOT), "--judge-endpoint", "http://x/v1"]) == 1
    assert "--judge-endpoint needs --judge-model" in capsys.readouterr().err
