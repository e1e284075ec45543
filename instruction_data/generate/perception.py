"""Closed-ended perception questions about one clip, read off its metadata.

`perception_records(clip, rng, sampler)` returns every record that applies to the clip:
classification, caption, existence (a balanced yes/no pair per clip, one negative mode per
clip, rotating), counting, temporal order and timing, speech content, speaker, language,
loudness, duration, pitch and given question-answer pairs.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace

from instruction_data.clips import Clip
from instruction_data.generate import templates as T
from instruction_data.generate.common import fill, label_slots, make_record
from instruction_data.generate.negatives import UNASKABLE, LabelSampler
from instruction_data.schema import NEGATIVE_MODES, Record, Turn
from instruction_data.taxonomy import expand
from instruction_data.text import capitalize, number_word, seconds, with_article

LOUD_DB, QUIET_DB = -16.0, -32.0  # RMS dBFS thresholds for "loud" and "quiet"
DURATION_SHARE = 0.15  # share of clips that get a duration question
EXISTENCE_SHARE = 0.6  # share of clips that get a yes/no existence pair
UNSURE_SNR_DB = 0.0  # a mix whose foreground is below its background by more than this: "I can't tell"
NO_SPEECH_SHARE = 0.15  # share of clips without speech asked "what is said?" (answer: nothing)
SPEECH_CAPTION_SHARE = 0.3  # share of transcribed speech clips that also get a caption (it quotes the transcript)
SPEECH_CLASS_SHARE = 0.2  # share of plain speech clips asked for their class ("Speech." would swamp the others)
ENGLISH_LANGUAGE_SHARE = 0.15  # share of English speech clips asked for the language (others: always)


def classification(clip: Clip, rng: random.Random, sampler: LabelSampler) -> list[Record]:
    if not clip.labels or clip.events and len({e.label for e in clip.events}) > 1:
        return []
    if clip.label == "speech" and rng.random() >= SPEECH_CLASS_SHARE:
        return []
    slots = label_slots(clip.label)
    return [make_record([clip], "classification", fill(rng, T.CLASSIFY_Q), fill(rng, T.CLASSIFY_A, **slots), "0",
                        answer=clip.label)]


def caption(clip: Clip, rng: random.Random, sampler: LabelSampler) -> list[Record]:
    """A speech clip's caption quotes what is said, so one whose words are unknown gets none: a caption
    such as "A voice says a short line." would teach the model to describe speech without quoting it."""
    if not clip.caption or clip.kind == "speech" and (not clip.transcript or rng.random() >= SPEECH_CAPTION_SHARE):
        return []
    text = rng.choice(clip.captions or [clip.caption])
    return [make_record([clip], "caption", fill(rng, T.CAPTION_Q), text, "0", answer=text)]


def existence(clip: Clip, rng: random.Random, sampler: LabelSampler) -> list[Record]:
    """One yes and one no question, both tagged with one negative mode chosen for this clip."""
    if rng.random() >= EXISTENCE_SHARE:
        return []
    mode = NEGATIVE_MODES[rng.randrange(len(NEGATIVE_MODES))]
    buried = _buried(clip)
    positive, negative = sampler.positive(_audible(clip, buried), rng), sampler.negative(clip, mode, rng)
    if positive is None or negative is None:
        return []
    out = []
    for answer, label, answers in (("yes", positive, T.EXIST_YES), ("no", negative, T.EXIST_NO)):
        slots = label_slots(label)
        sampler.record(label, answer)
        extra = {"negative_source": sampler.last_negative_source} if answer == "no" and sampler.balance else {}
        out.append(make_record([clip], "existence", fill(rng, T.EXIST_Q, **slots), fill(rng, answers, **slots),
                               f"{mode}-{answer}", negative_mode=mode, answer=answer, asked_label=label, **extra))
    if buried:
        label = buried[0]
        slots = {**label_slots(label), "background": clip.mix["background"]}
        out.append(make_record([clip], "existence", fill(rng, T.EXIST_Q, **slots), fill(rng, T.UNSURE_A, **slots),
                               "unsure", answer="unsure", asked_label=label))
    return out


def _buried(clip: Clip) -> list[str]:
    """[the foreground label] of a background mix whose SNR is below UNSURE_SNR_DB, else []."""
    if not clip.mix or clip.mix.get("snr_db", 99.0) >= UNSURE_SNR_DB or clip.mix["foreground"] in UNASKABLE:
        return []
    return [clip.mix["foreground"]]


def _audible(clip: Clip, buried: list[str]) -> Clip:
    """The clip with only its background's labels when its foreground is buried (positives are asked
    only about what can be heard)."""
    return replace(clip, labels=expand([clip.mix["background"]])) if buried else clip


def counting(clip: Clip, rng: random.Random, sampler: LabelSampler) -> list[Record]:
    if clip.count is None:
        return []
    n = clip.count
    times = "once" if n == 1 else "twice" if n == 2 else f"{number_word(n)} times"
    slots = {**label_slots(clip.count_label), "N": str(n), "n_word": number_word(n), "times": times,
             "Times": capitalize(times)}
    answer = fill(rng, T.COUNT_A if n > 1 else T.COUNT_A[:3], **slots)
    return [make_record([clip], "counting", fill(rng, T.COUNT_Q, **slots), answer, "0", answer=n)]


def temporal(clip: Clip, rng: random.Random, sampler: LabelSampler) -> list[Record]:
    """Order questions when the clip has 2+ distinct timed sounds; timing questions when it has events."""
    events = sorted(clip.events, key=lambda e: e.onset)
    labels = [e.label for e in events]
    out: list[Record] = []
    if any(a.offset > b.onset for a, b in zip(events, events[1:])):
        return out  # overlapping sounds (speech over a background): order is not well defined
    if len(set(labels)) == len(labels) >= 2:
        i, j = sorted(rng.sample(range(len(events)), 2))
        a, b = (labels[i], labels[j]) if rng.random() < 0.5 else (labels[j], labels[i])
        first, second = with_article(labels[i]), with_article(labels[j])
        q = fill(rng, T.FIRST_Q, a=with_article(a), b=with_article(b))
        out.append(make_record([clip], "temporal_order", q, fill(rng, T.FIRST_A, First=capitalize(first),
                                                                   first=first, second=second), "first",
                               answer=labels[i]))
        k = rng.randrange(len(events) - 1)
        out.append(make_record([clip], "temporal_order", fill(rng, T.AFTER_Q, a=with_article(labels[k])),
                               capitalize(with_article(labels[k + 1])) + ".", "after", answer=labels[k + 1]))
        if len(events) > 2:
            order = "First " + ", then ".join(with_article(x) for x in labels) + "."
            out.append(make_record([clip], "temporal_order", fill(rng, T.ORDER_Q), order, "order", answer=labels))
    if events and len(set(labels)) == len(labels):
        e = rng.choice(events)
        start = rng.random() < 0.6
        t = e.onset if start else e.offset
        q = fill(rng, T.START_Q if start else T.END_Q, a=with_article(e.label))
        out.append(make_record([clip], "timing", q, fill(rng, T.START_A if start else T.END_A, t=seconds(t)),
                               "start" if start else "end", answer=round(t, 2), asked_label=e.label))
    return out


def speech(clip: Clip, rng: random.Random, sampler: LabelSampler) -> list[Record]:
    out = []
    if clip.transcript:
        out.append(make_record([clip], "speech_content", fill(rng, T.SPEECH_Q), clip.transcript, "0",
                               answer=clip.transcript))
    elif clip.label and "speech" not in clip.labels and clip.kind != "speech" and rng.random() < NO_SPEECH_SHARE:
        out.append(make_record([clip], "speech_content", fill(rng, T.SPEECH_Q),
                               fill(rng, T.NO_SPEECH_A, **label_slots(clip.label)), "none", answer="no speech"))
    if clip.speaker:
        gender = "female" if "female" in clip.speaker or "woman" in clip.speaker else (
            "male" if "male" in clip.speaker or "man" in clip.speaker.split() else "")
        if gender and rng.random() < 0.5:
            out.append(make_record([clip], "speaker", fill(rng, T.GENDER_Q), f"{capitalize(gender)}.", "gender",
                                   answer=gender))
        else:
            out.append(make_record([clip], "speaker", fill(rng, T.SPEAKER_Q), capitalize(clip.speaker) + ".",
                                   "voice", answer=clip.speaker))
    if clip.language and clip.transcript and (clip.language != "English" or rng.random() < ENGLISH_LANGUAGE_SHARE):
        out.append(make_record([clip], "language", fill(rng, T.LANGUAGE_Q), f"{clip.language}.", "0",
                               answer=clip.language))
    return out


def loudness(clip: Clip, rng: random.Random, sampler: LabelSampler) -> list[Record]:
    """Only clear cases: louder than LOUD_DB or quieter than QUIET_DB."""
    db = clip.loudness_db
    if db is None or QUIET_DB <= db <= LOUD_DB:
        return []
    word = "loud" if db > LOUD_DB else "quiet"
    return [make_record([clip], "loudness", fill(rng, T.LOUD_Q), f"It is {word}.", "0", answer=word)]


def duration(clip: Clip, rng: random.Random, sampler: LabelSampler) -> list[Record]:
    if rng.random() >= DURATION_SHARE:
        return []
    answer = fill(rng, T.DURATION_A, t=seconds(clip.duration))
    return [make_record([clip], "duration", fill(rng, T.DURATION_Q), answer, "0", answer=clip.duration)]


def pitch(clip: Clip, rng: random.Random, sampler: LabelSampler) -> list[Record]:
    """Tone pairs: is the second higher; steady tones and beeps: high/low and Hz; sweeps: contour."""
    if clip.kind != "tone":
        return []
    if len(clip.events) == 2 and clip.count is None:
        word = "higher" if clip.pitch_contour == "rising" else "lower"
        return [make_record([clip], "pitch", fill(rng, T.PAIR_Q), f"The second tone is {word}.", "pair",
                            answer=word)]
    out = []
    if clip.pitch_hz:
        hz = int(clip.pitch_hz)
        if hz >= 1000 or hz <= 300:
            word = "high" if hz >= 1000 else "low"
            out.append(make_record([clip], "pitch", fill(rng, T.HIGHLOW_Q), f"It is {word} pitched.", "highlow",
                                   answer=word))
        out.append(make_record([clip], "pitch", fill(rng, T.FREQ_Q), fill(rng, T.FREQ_A, hz=hz), "hz", answer=hz))
    if clip.pitch_contour and not clip.events:
        out.append(make_record([clip], "pitch", fill(rng, T.CONTOUR_Q), f"{capitalize(clip.pitch_contour)}.",
                               "contour", answer=clip.pitch_contour))
    return out


def given_qa(clip: Clip, rng: random.Random, sampler: LabelSampler) -> list[Record]:
    return [make_record([clip], "aqa", qa["question"], qa["answer"], str(i), answer=qa["answer"])
            for i, qa in enumerate(clip.qa)]


GENERATORS: list[Callable[[Clip, random.Random, LabelSampler], list[Record]]] = [
    classification, caption, existence, counting, temporal, speech, loudness, duration, pitch, given_qa,
]


def perception_records(clip: Clip, rng: random.Random, sampler: LabelSampler) -> list[Record]:
    """All closed-ended records for one clip."""
    return [record for generate in GENERATORS for record in generate(clip, rng, sampler)]


def dialogue(clip: Clip, records: list[Record], rng: random.Random) -> Record | None:
    """2-3 of a clip's closed-ended records as one multi-turn conversation (earlier turns in history)."""
    usable = [r for r in records if r.task not in ("existence", "aqa")]
    if len(usable) < 2:
        return None
    turns = rng.sample(usable, min(len(usable), rng.choice([2, 3])))
    last = turns[-1]
    rec = make_record([clip], "dialogue", last.instruction, last.output, "0", turn_tasks=[t.task for t in turns])
    rec.history = [Turn(t.instruction, t.output) for t in turns[:-1]]
    return rec
