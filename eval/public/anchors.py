"""The anchors' published numbers on the public benchmarks, as data, for the report's table.

Values are percentages as the systems' authors report them, copied from the project's notes
(`../shared/notes/anchors.md`, which also says several were not independently checked).
`approximate` marks the values the notes give as "about". Where a source does not say which
subset, version or metric it used, `setting` says so instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

NOTES = "shared/notes/anchors.md (reported by each system's authors)"


@dataclass(frozen=True)
class AnchorScore:
    system: str             # the model or pipeline the number is for
    benchmark: str          # our benchmark name: mmau, mmar, cmm, clotho-aqa, audiocaps-pope, ...
    metric: str             # the metric as reported (accuracy, f1 ...)
    value: float            # in percent
    setting: str = ""       # version, subset or sampling mode the number is for; what is unknown about it
    approximate: bool = False  # the source gives it as "about"
    source: str = NOTES     # where the number was read


ANCHORS: tuple[AnchorScore, ...] = (
    AnchorScore("Audio Flamingo 3", "mmau", "accuracy", 73.3, "v05.15.25 test-mini"),
    AnchorScore("Qwen3-Omni-30B-A3B", "mmau", "accuracy", 77.5, "v05.15.25; split not stated"),
    AnchorScore("Qwen2-Audio", "mmau", "accuracy", 69.1, "sound questions only; release not stated"),
    AnchorScore("Kimi-Audio", "mmau", "accuracy", 73.3, "sound questions only; release not stated"),
    AnchorScore("Audio Flamingo 3", "mmar", "accuracy", 58.5, "all 1,000 questions"),
    AnchorScore("Audio Flamingo 3", "cmm", "accuracy", 86.5, "subset and metric (accuracy, PA or HR) not stated"),
    AnchorScore("Audio Flamingo 3", "clotho-aqa", "accuracy", 91.1, "protocol (subset, answer matching) not stated"),
    AnchorScore("Qwen2-Audio", "clotho-aqa", "accuracy", 71.7, "protocol not stated"),
    AnchorScore("Kimi-Audio", "clotho-aqa", "accuracy", 71.2, "protocol not stated"),
    AnchorScore("Qwen-Audio", "clotho-aqa", "accuracy", 57.9, "all questions; protocol not stated"),
    AnchorScore("Qwen-Audio", "clotho-aqa", "binary accuracy", 74.9, "yes/no questions"),
    AnchorScore("Pengi", "clotho-aqa", "binary accuracy", 64.5, "yes/no questions"),
    AnchorScore("best audio LLM in Kuan et al. 2024", "audiocaps-pope", "f1", 53.0, "random negatives",
                approximate=True),
    AnchorScore("best audio LLM in Kuan et al. 2024", "audiocaps-pope", "f1", 45.0, "adversarial negatives",
                approximate=True),
    AnchorScore("Whisper -> text-LLM cascade (Kuan et al. 2024)", "audiocaps-pope", "f1", 83.0, "random negatives",
                approximate=True),
    AnchorScore("Whisper -> text-LLM cascade (Kuan et al. 2024)", "audiocaps-pope", "f1", 73.0,
                "adversarial negatives", approximate=True),
    AnchorScore("GAMA", "pope-style", "f1", 81.7, "the GAMA paper's own POPE-style set, not Kuan et al.'s"),
)


def for_benchmark(name: str) -> list[AnchorScore]:
    """The anchors' numbers for one of our benchmarks, in table order."""
    return [a for a in ANCHORS if a.benchmark == name]
