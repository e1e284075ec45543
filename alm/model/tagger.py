"""Sound tags as text: a small tagging head over the encoders' frames whose top labels the LLM reads.

A speech transcript tells the LLM what is said; tags tell it what is heard, in words it already knows
("dog", "rain"), the way a Whisper-then-LLM cascade hears: the POPE-style study in the anchors found
such cascades far less prone to answering "yes" to sounds that are not there. The head is a linear
layer over each clip's frames pooled over time (mean and max), trained on the corpus labels
(`training.tagger`), of one of two kinds:

- `softmax` (the default): one class per clip among the most specific labels ("dog", never "animal":
  the LLM knows a dog is an animal), so the first tag is the best guess at the clip's class;
- `sigmoid`: one independent probability per label, parents included (the first taggers: their first
  tags were mostly parents, "music" or "animal", which name no class).

The LLM reads, after the clip's audio tokens, ` (sound tags: dog 0.62, cat 0.11)`: `top_k` tags at least `threshold`
likely. Read with fewer tags than it trained on, alm-tiny's LLM follows its first tag more often: on the 330 held-out
class items it named 148 with one tag (150 with the speech gate below too), 149 with two and the gate, 144 with its
three; but with one tag its first-split captions lost 0.28 CIDEr-D (training/README.md, "Session 43"; `scripts/tagger_reading.py` sets it).

The speech gate (`speech_gate`): a clip whose asked name "speech" the tagger calls "unlikely" (`hears_speech`, the
verdict below on the probability the notes show) gets no transcript, as behind Whisper's no-speech gate, and is not
decoded. Whisper's gate lets through shouts, grunts, water and applause "transcribed" as "Huh?", "Bye." or
"Thank you.", and the LLM answers from those words; the tagger's gate withholds 16 of the 34 transcripts of the held-out
class items and one of the 60 held-out spoken sentences (training/README.md, "Session 43"). With `speech_gate_words`
the tagger's "unlikely" withholds only short transcripts: one of at least that many distinct words is kept, since
Whisper's inventions on sound are a word or two ("Thank you.", "AHHHHH!", "Oh, oh, oh") while the gate also withheld
whole sentences of real voices the tagger was unsure of ("Please enter the channel number followed by the pound key.").
At 4 words, on 1,223 non-speech clips of corpus v4 (held-out, validation and training splits) it kept 2 transcripts
more than the gate alone, both spoken lines of voices labelled as sounds, and on 500 spoken ones 5 more sentences
(training/README.md, "Session 47"). That rule has every vetoed clip decoded, about 1 s of Whisper a clip on one CPU
thread; with `speech_gate_floor` a clip whose "speech" probability is under the floor is not (`hears_speech` gives
None): at 0.01, 712 of 737 vetoed corpus clips, while the five long transcripts the rule kept there had 0.039-0.17
(training/README.md, "Session 48"). `Assistant.transcribe`, the vLLM front end (`serve.vllm.model`) and training
(`training.tagger.TaggerPlan.speech_gate`) gate alike, through `SoundTagger.gated_transcripts` / `keeps_transcript`.

Asked sounds (a tagger with `names`): when the prompt names sounds the tagger knows ("Is there a bird?"), each clip's
notes also give the tagger's probability of each named sound, ` (sound tags: dog 0.62, cat 0.11; asked: bird 0.03)`,
so "is there X?" is answered from a number the tagger computed rather than from the LLM's sense of the audio tokens
(end-to-end audio LLMs tend to say "yes"; the tagger alone answered corpus v2's held-out-source "is there X?" 0.82 at
yes-ratios 0.36-0.49). A name's probability is the sum of the probabilities of the labels it covers (the label itself
and those whose training clips carry it as a parent: "animal" sums every animal; softmax taggers) or its own label's
probability (sigmoid taggers). The names are found in the prompt text (`alm.processor.asked_text`: the rendered
conversation up to the answer, the model's system prompt left out), the same way in training, in `alm ask` and the
API, and in vLLM's front end. A tagger with an `asked_threshold` also says which side of it each asked sound falls,
`asked: bird 0.03 unlikely`: an LLM of SmolLM2's size, trained on the number alone, answered "yes" to sounds at 0.00
and "no" to speech at 0.76 (held-out "is there X?" 0.62 where that number cut at 0.10-0.20 answers 0.83-0.87), where
a word is there to copy (`tagger: {asked_verdict: true}` in a recipe; the threshold is set at fitting time on the
cross-fitted tags, against absent sounds drawn as POPE's three modes draw them: `training.tagger.asked_threshold`).
With `asked_top` a sound that covers the clip's most likely label is "likely" at any probability: on recordings of
sources the tagger never heard its probabilities run flat (speech at 0.06 on a speech clip, where it is still the
first tag), so a fixed threshold calls present sounds unlikely; on corpus v2's cross-fitted tags the rule scored 0.70
against 0.69 for the threshold alone, and it is chosen there, not on the held-out split.

The head reads each clip's frames pooled per encoder layer: `layers: 1` the final frames the aligner reads (what
the feature cache holds), more the outputs of the encoder's last `layers` layers, as Whisper-AT reads every
layer: on recordings of sources never trained on the last layer is the limit (a linear probe on Whisper-base's
last-layer means named 12% of corpus v2's held-out-source clips, on all six layers' means side by side 23%; in
domain 67% and 70%; 20 clips per class, 183 classes). One LayerNorm, shared, normalises each layer's pooled
vector (the head's per-layer weights absorb any per-layer scale), so a one-layer tagger is the first taggers'
layout and their files load unchanged. In a model with a general-sound encoder a one-layer tagger reads its frames
too, and normalises the two encoders' parts apart (`sound_width`): with aisfx beside Whisper-base's final frames a
linear head's first tag was right on 0.307 of the held-out draw below against 0.270 normalised together (in domain
0.625 / 0.628). A tagger reading several Whisper layers reads the sound encoder's pooled frames as one more block
(`sound_block`): the six layers with aisfx's block, 0.372 / 0.724, against 0.348 / 0.722 for the six alone.

The head is linear, or with `hidden` one hidden layer (GELU, dropout while fit): fit on the same cached six-layer
stats of the recipe's fitting clips (today's corpus, 5,348 clips, 223 labels, seed 0, 600 full-batch steps), the first
tag of a 1024-wide hidden head (dropout 0.3, lr 2e-3) was right on 0.405 of held-out-source clips of known classes
(296) and 0.748 of in-domain test clips (801), a linear head's on 0.348 / 0.722; mixup of the pooled features (0.307 /
0.709) and input dropout on the linear head (0.304 / 0.597) were worse (`scripts/tagger_heads.py`; training/README.md).
On the 324 items of the held-out class benchmark, though, the hidden head's first tag was right on 112 and the linear
head's on 108, and a model trained on the hidden head's tags named 0.33 of them, no more than the linear head's
(`scripts/tagger_vs_answers.py`): the v3 recipe keeps the linear head. The same linear head fit in shuffled batches
of 32 (`training.tagger.fit`'s `batch_size`) named 0.409 / 0.734 of the draw and 125 of the 324 items (the full-batch
fit 108); the v3 recipe fits it so, and its model named 0.367 of those items (training/README.md).

A tagger with a sound block may also average in heads that read the Whisper layers alone (`layers_only: M`, their
width `layers_width`): on corpus v4's draw (305 held-out-source clips / 695 in domain) the recipe's five heads on the
six layers named 0.436 / 0.742, five on the six and YAMNet's block 0.472 / 0.711 (and only 25 of 30 speech clips:
YAMNet hears espeak voices as 'robot sound'), and the ten averaged 0.515 / 0.741, 28 of 30 (`scripts/yamnet_probe.py`).

An ensemble (`ensemble: N`) is N such heads fit alike on the same clips from N seeds (init and batch order), their
probabilities averaged: one linear head's first tag swung between 0.384 and 0.416 of corpus v3's held-out-source
draw (305 clips) from seed to seed; the mean of five was right on 0.423 (in domain 0.741 -> 0.751). On corpus v2's
draw five heads named 0.405 against one head's 0.409: it takes one seed's luck out more than it hears better
(`scripts/tagger_heads.py --ensemble`; training/README.md, "The v4 candidate").

Shapes (A clips, W windows, T frames, C frame width, K layers read, L labels):
    frames of each layer (W, T, C), lengths (W,) -> window stats (W, K, 2C) (mean and max over real frames; with a
    sound block (W, K + 1, 2W), `with_sound_block`)
    -> per clip (A, K, 2C) (`pool_clips`, windows per clip (A,)) -> [hidden (A, H)] -> logits (A, L)
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn


TAGGER_WEIGHTS = "tagger.safetensors"
SPEECH = "speech"  # the asked name whose verdict gates transcripts (`speech_gate`)
TAGGER_FILE = "tagger.json"
TaggerKind = Literal["softmax", "sigmoid"]  # see the module docstring
KINDS = get_args(TaggerKind)


@dataclass
class TaggerSettings:
    labels: list[str]  # softmax: the most specific labels; sigmoid: the corpus taxonomy, parents included
    width: int  # frame width the head reads (AlmConfig.frame_width)
    top_k: int = 3  # at most this many tags per clip
    threshold: float = 0.3  # only tags at least this likely
    kind: TaggerKind = "sigmoid"  # files written without a kind are sigmoid taggers
    layers: int = 1  # 1: the final frames (a sound encoder's too); more: the last Whisper layers (files without: 1)
    names: dict[str, list[str]] = field(default_factory=dict)  # asked sounds: a name the prompt may use -> the labels
    # whose probabilities it sums (see the module docstring); empty: the notes give no asked sounds (files without)
    asked_limit: int = 3  # at most this many asked sounds per clip, in the order the prompt names them
    asked_threshold: float | None = None  # an asked sound's probability from which the notes call it "likely", below
    # it "unlikely" (`training.tagger.asked_threshold` picks it on tags of sources the tagger never heard); None: the
    # probability alone (files without)
    asked_top: bool = False  # with a threshold: a sound that covers the clip's most likely label is "likely" whatever
    # its probability (on sources never heard the probabilities run flat, but the first tag still names the sound)
    hidden: int = 0  # 0: a linear head (files without: 0); else one hidden layer of this width (GELU) between the
    # pooled frames and the labels (see the module docstring)
    dropout: float = 0.0  # a hidden head's dropout while it is fit, on its input and its hidden layer
    sound_width: int = 0  # a one-layer tagger in a model with a general-sound encoder: the last `sound_width` channels
    # of each half (mean, max) of its pooled frames are that encoder's, normalised apart from Whisper's (files without: 0)
    sound_block: bool = False  # a tagger reading several Whisper layers in a model with a general-sound encoder: that
    # encoder's pooled frames are one more block after the layers' (`with_sound_block`; files without: False)
    ensemble: int = 1  # heads fit alike from different seeds (init and batch order), their probabilities averaged
    # (files without: 1, one head; see the module docstring)
    layers_only: int = 0  # with a sound block: this many more heads, averaged in as equals, read the Whisper layers
    # alone (the first `layers` blocks, unpadded to `layers_width`; files without: 0, none); see the module docstring
    layers_width: int = 0  # those heads' width, Whisper's frame width C
    speech_gate: bool = False  # a clip the tagger hears no speech in (the name "speech" "unlikely": `hears_speech`)
    # gets no transcript, as behind Whisper's no-speech gate (files without: False); see the module docstring
    speech_gate_words: int = 0  # with the gate: a transcript of at least this many distinct words is kept even where
    # the tagger hears no speech (`keeps_transcript`); 0: the tagger's "unlikely" withholds every one (files without)
    speech_gate_floor: float = 0.0  # with speech_gate_words: a clip whose "speech" probability is under this floor
    # keeps none, so it is not decoded at all (`hears_speech` gives None; files without: 0.0, every clip may)

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"tagger kind {self.kind!r}: expected one of {', '.join(KINDS)}")
        if self.layers < 1:
            raise ValueError(f"tagger layers {self.layers}: expected at least 1")
        if self.hidden < 0 or not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"tagger hidden {self.hidden} / dropout {self.dropout}: expected hidden >= 0 (0: linear) "
                             "and 0 <= dropout < 1")
        if self.ensemble < 1:
            raise ValueError(f"tagger ensemble {self.ensemble}: expected at least 1 head")
        if self.layers_only and not (self.sound_block and 0 < self.layers_width <= self.width):
            raise ValueError(f"tagger layers_only {self.layers_only}: heads on the Whisper layers alone beside heads "
                             f"reading a sound block (sound_block) need layers_width, Whisper's width (<= {self.width})")
        if self.sound_block and self.layers < 2:
            raise ValueError("tagger sound_block: a tagger reading several Whisper layers (one layer reads the sound "
                             "encoder's frames beside Whisper's, `sound_width`)")
        if self.sound_width and (self.layers != 1 or not 0 < self.sound_width < self.width):
            raise ValueError(f"tagger sound_width {self.sound_width}: a one-layer tagger's sound encoder channels, "
                             f"fewer than its width {self.width}")
        if self.speech_gate_words < 0 or (self.speech_gate_words and not self.speech_gate):
            raise ValueError(f"tagger speech_gate_words {self.speech_gate_words}: expected 0 (none kept) or more, and "
                             "only with speech_gate (it is a rule of the gate)")
        if not 0.0 <= self.speech_gate_floor < 1.0 or (self.speech_gate_floor and not self.speech_gate_words):
            raise ValueError(f"tagger speech_gate_floor {self.speech_gate_floor}: expected a probability in [0, 1), "
                             "and only with speech_gate_words (it bounds which clips that rule may keep)")
        if self.speech_gate and self.names and SPEECH not in self.names:
            raise ValueError(f"tagger speech_gate: the gate reads the probability of the name {SPEECH!r}, which the "
                             "tagger's names lack")
        unknown = sorted({label for covered in self.names.values() for label in covered} - set(self.labels))
        if unknown:
            raise ValueError(f"tagger names cover labels it does not tell apart: {', '.join(unknown[:5])}")


def pool_clips(stats: torch.Tensor, lengths: torch.Tensor, windows_per_clip: list[int]) -> torch.Tensor:
    """Window stats (W, K, 2C) -> (A, K, 2C): per clip, the mean over all its real frames (its windows' means
    weighted by their frame counts `lengths` (W,)) and the max over them."""
    C = stats.shape[-1] // 2
    weights = lengths.to(stats.dtype)[:, None, None]  # W, 1, 1
    out = []
    for block, w in zip(stats.split(windows_per_clip), weights.split(windows_per_clip)):
        mean = (block[..., :C] * w).sum(0) / w.sum(0)  # K, C
        out.append(torch.cat([mean, block[..., C:].max(0).values], -1))  # K, 2C
    return torch.stack(out)  # A, K, 2C


def split_sound(pooled: torch.Tensor, sound_width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled frames (..., 2 (C + E)), mean then max over Whisper's C channels and the sound encoder's last E ->
    Whisper's (..., 2C) and the sound encoder's (..., 2E), each mean then max."""
    half = pooled.shape[-1] // 2
    whisper = torch.cat([pooled[..., :half - sound_width], pooled[..., half:2 * half - sound_width]], -1)
    sound = torch.cat([pooled[..., half - sound_width:half], pooled[..., 2 * half - sound_width:]], -1)
    return whisper, sound


def with_sound_block(layer_stats: torch.Tensor, sound_stats: torch.Tensor) -> torch.Tensor:
    """Whisper's layer stats (..., K, 2C) and the sound encoder's (..., 1, 2E) -> (..., K + 1, 2W), W = max(C, E): the
    sound encoder's as one more block, each block's mean and max halves zero-padded to W (so `pool_clips` and the
    tagger's per-block normalisation take them as they take layers)."""
    width = max(layer_stats.shape[-1], sound_stats.shape[-1]) // 2

    def padded(stats):
        half = stats.shape[-1] // 2
        pad = (0, width - half)
        return torch.cat([F.pad(stats[..., :half], pad), F.pad(stats[..., half:], pad)], -1)  # ..., 2W

    return torch.cat([padded(layer_stats), padded(sound_stats)], -2)


def with_sound_frames(layer_stats: torch.Tensor, sound: torch.Tensor, frame_lengths: torch.Tensor) -> torch.Tensor:
    """Whisper's window stats (W, K, 2C) and the sound encoder's frames on Whisper's grid (W, T, E;
    `sound_frames_on_grid`) -> the stats a tagger reading the sound encoder as one more block reads, (W, K + 1, 2W)
    (`with_sound_block`). `AlmForConditionalGeneration.encode_windows` and the feature cache make them so."""
    from alm.model.audio_encoder import window_stats

    return with_sound_block(layer_stats, window_stats(sound, frame_lengths)[:, None])


def whisper_blocks(pooled: torch.Tensor, settings: TaggerSettings) -> torch.Tensor:
    """Stats with a sound block (A, K + 1, 2W) -> the Whisper layers' alone, unpadded (A, K, 2C), C = `layers_width`
    (`with_sound_block` pads each half of each block to W)."""
    k, c, w = settings.layers, settings.layers_width, settings.width
    return torch.cat([pooled[:, :k, :c], pooled[:, :k, w:w + c]], -1)


class SoundTagger(nn.Module):
    def __init__(self, settings: TaggerSettings):
        super().__init__()
        self.settings = settings
        if settings.layers_only:  # the heads reading the sound block, then those reading Whisper's layers alone
            alone = replace(settings, ensemble=settings.layers_only, layers_only=0, layers_width=0, sound_block=False,
                            width=settings.layers_width)
            self.members = nn.ModuleList([SoundTagger(replace(settings, layers_only=0, layers_width=0)),
                                          SoundTagger(alone)])
            return
        if settings.ensemble > 1:  # members alike, each a one-head tagger (`fit` fits each from its own seed)
            self.members = nn.ModuleList(SoundTagger(replace(settings, ensemble=1)) for _ in range(settings.ensemble))
            return
        self.norm = nn.LayerNorm(2 * (settings.width - settings.sound_width))  # each layer's pooled vector alone
        if settings.sound_width:  # the sound encoder's part of the pooled frames, normalised apart from Whisper's
            self.sound_norm = nn.LayerNorm(2 * settings.sound_width)
        read, labels = (settings.layers + settings.sound_block) * 2 * settings.width, len(settings.labels)
        if settings.hidden:
            self.head = nn.Sequential(nn.Dropout(settings.dropout), nn.Linear(read, settings.hidden), nn.GELU(),
                                      nn.Dropout(settings.dropout), nn.Linear(settings.hidden, labels))
        else:
            self.head = nn.Linear(read, labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """(A, K, 2C) pooled frames of the K layers read -> (A, L) logits (through (A, H) with a hidden layer). An
        ensemble's are logits of its members' mean probabilities: log of the mean softmax, logit of the mean sigmoid."""
        if self.settings.layers_only:  # each group's mean probabilities, weighted by its heads
            with_block, alone = self.members
            n, m = self.settings.ensemble, self.settings.layers_only
            mean = (n * with_block.probabilities(with_block(pooled))
                    + m * alone.probabilities(alone(whisper_blocks(pooled, self.settings)))) / (n + m)  # A, L
            return mean.clamp_min(1e-12).log() if self.settings.kind == "softmax" else torch.logit(mean, eps=1e-6)
        if self.settings.ensemble > 1:
            mean = torch.stack([m.probabilities(m(pooled)) for m in self.members]).mean(0)  # E, A, L -> A, L
            return mean.clamp_min(1e-12).log() if self.settings.kind == "softmax" else torch.logit(mean, eps=1e-6)
        if not self.settings.sound_width:
            return self.head(self.norm(pooled).flatten(1))  # A, K, 2C -> A, K*2C -> A, L
        whisper, sound = split_sound(pooled, self.settings.sound_width)  # A, 1, 2(C - E); A, 1, 2E
        return self.head(torch.cat([self.norm(whisper), self.sound_norm(sound)], -1).flatten(1))  # A, 2C -> A, L

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """(A, L) logits -> (A, L) probabilities: a distribution over the labels (softmax) or one per label."""
        return torch.softmax(logits, -1) if self.settings.kind == "softmax" else torch.sigmoid(logits)

    @torch.no_grad()
    def clip_probabilities(self, pooled: torch.Tensor) -> torch.Tensor:
        """Pooled (A, K, 2C) -> (A, L) float32 probabilities of the labels (a hidden head's dropout off, even inside a
        model in training mode)."""
        was_training = self.training
        self.eval()
        try:
            return self.probabilities(self(pooled.to(next(self.parameters()).dtype)).float())
        finally:
            self.train(was_training)

    def top_tags(self, probs: torch.Tensor) -> list[list[tuple[str, float]]]:
        """(A, L) probabilities -> the top labels of each clip with their probabilities, most likely first."""
        out = []
        for row in probs:
            top = torch.topk(row, min(self.settings.top_k, row.numel()))
            out.append([(self.settings.labels[i], round(float(p), 2)) for p, i in zip(top.values, top.indices)
                        if p >= self.settings.threshold])
        return out

    def tags(self, pooled: torch.Tensor) -> list[list[tuple[str, float]]]:
        """The top labels of each clip (pooled (A, K, 2C)) with their probabilities, most likely first."""
        return self.top_tags(self.clip_probabilities(pooled))

    @property
    def asks(self) -> bool:
        """Whether the notes give asked sounds (the tagger has names)."""
        return bool(self.settings.names)

    @cached_property
    def _name_pattern(self) -> re.Pattern:
        # Longest names first, so "bass drum" is one name, not "drum"; a plural ("dogs", "finches") counts.
        names = sorted(self.settings.names, key=lambda n: (-len(n), n))
        return re.compile(r"(?<![\w-])(" + "|".join(map(re.escape, names)) + r")(?:e?s)?(?![\w-])")

    @cached_property
    def _covered(self) -> dict[str, list[int]]:
        """Each name -> the indices of the labels it sums."""
        index = {label: i for i, label in enumerate(self.settings.labels)}
        return {name: [index[label] for label in labels] for name, labels in self.settings.names.items()}

    def asked_names(self, text: str) -> list[str]:
        """The sound names `text` mentions that the tagger knows, in order of first mention, at most
        `asked_limit` (none for a tagger without names)."""
        if not self.asks:
            return []
        found: list[str] = []
        for match in self._name_pattern.finditer(text.lower()):
            if match.group(1) not in found:
                found.append(match.group(1))
        return found[: self.settings.asked_limit]

    def asked_tags(self, probs: torch.Tensor, names: list[str]) -> list[list[tuple]]:
        """(A, L) probabilities -> each clip's probability of each asked name (sum of the labels it covers for
        softmax taggers, its label's own for sigmoid ones), in the order given: (name, p), and with an
        `asked_threshold` (name, p, verdict), the verdict "likely" or "unlikely" (`likely`)."""
        threshold = self.settings.asked_threshold
        out = []
        for p_row, top_row in zip(self.asked_probabilities(probs, names).tolist(), self.asked_cover_top(probs, names)):
            clip = []
            for name, p, top in zip(names, p_row, top_row.tolist()):
                p = round(p, 2)  # the verdict follows the number shown
                clip.append((name, p) if threshold is None else
                            (name, p, "likely" if self.likely(p, top, threshold) else "unlikely"))
            out.append(clip)
        return out

    def asked_probabilities(self, probs: torch.Tensor, names: list[str]) -> torch.Tensor:
        """(A, L) probabilities -> (A, N) each clip's probability of each name (see `asked_tags`), at most 1."""
        columns = [probs[:, self._covered[name]] for name in names]  # each A, covered
        reduced = [c.sum(1) if self.settings.kind == "softmax" else c.max(1).values for c in columns]
        return torch.stack(reduced, 1).clamp(max=1.0) if names else probs.new_zeros(len(probs), 0)

    def asked_cover_top(self, probs: torch.Tensor, names: list[str]) -> torch.Tensor:
        """(A, L) probabilities -> (A, N) bool: whether each name covers the clip's most likely label."""
        top = probs.argmax(1)  # A
        return torch.stack([torch.isin(top, torch.tensor(self._covered[name], dtype=torch.long)) for name in names], 1) \
            if names else torch.zeros(len(probs), 0, dtype=torch.bool)

    def likely(self, p, covers_top, threshold: float):
        """The verdict (a bool, or a bool tensor for tensors): at or above the threshold, or, for a tagger with
        `asked_top`, naming the clip's most likely label."""
        return (p >= threshold) | (covers_top & self.settings.asked_top)

    def hears_speech(self, probs: torch.Tensor) -> list[bool | None]:
        """(A, L) probabilities -> whether each clip may have a transcript: True for every clip without
        `speech_gate`; with it, whether the name "speech" is "likely" (`likely`, on the probability the notes show;
        without an asked threshold, only where speech is the clip's most likely sound), and None instead of False
        where its probability is under `speech_gate_floor`: not even a long transcript is kept there."""
        if not self.settings.speech_gate:
            return [True] * len(probs)
        raw = self.asked_probabilities(probs, [SPEECH])[:, 0]  # A
        p = raw.round(decimals=2)  # as `asked_tags` shows it
        top = self.asked_cover_top(probs, [SPEECH])[:, 0]
        threshold = self.settings.asked_threshold
        heard = (self.likely(p, top, threshold) if threshold is not None else top).tolist()
        floor = self.settings.speech_gate_floor
        return [h or (None if q < floor else False) for h, q in zip(heard, raw.tolist())]

    def keeps_transcript(self, text: str, heard: bool | None) -> bool:
        """Whether a clip keeps its Whisper transcript `text` behind the speech gate: where the tagger hears speech
        (`heard`, from `hears_speech`), or, with `speech_gate_words`, where the transcript has at least that many
        distinct words (Whisper's inventions on sound are a word or two: "Thank you.", "AHHHHH!", "Oh, oh, oh") and
        the clip is not under the gate's floor (`heard` None)."""
        return bool(heard) or (self.may_keep(heard) and distinct_words(text) >= self.settings.speech_gate_words)

    def may_keep(self, heard: bool | None) -> bool:
        """Whether a clip whose tagger verdict is `heard` (from `hears_speech`) may keep any transcript at all, so is
        worth decoding: where speech is heard, or where `speech_gate_words` may keep a long one (not under the
        floor)."""
        return bool(heard) or (heard is not None and self.settings.speech_gate_words > 0)

    def gated_transcripts(self, waves: list, heard: list[bool | None], transcribe) -> list[str]:
        """Each clip's transcript behind the speech gate (`keeps_transcript`), `transcribe(wave)` making one: a clip
        the tagger hears no speech in is not decoded at all unless `speech_gate_words` may keep its transcript (not
        under the floor). `Assistant.transcribe` and the vLLM front end (`serve.vllm.model`) both gate through here."""
        out = []
        for wave, h in zip(waves, heard):
            text = transcribe(wave) if self.may_keep(h) else ""
            out.append(text if self.keeps_transcript(text, h) else "")
        return out

    def save(self, folder: Path) -> None:
        from safetensors.torch import save_file

        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, folder / TAGGER_WEIGHTS)
        (folder / TAGGER_FILE).write_text(json.dumps(asdict(self.settings), indent=1) + "\n")

    @classmethod
    def load(cls, folder: Path) -> "SoundTagger":
        from safetensors.torch import load_file

        tagger = cls(TaggerSettings(**json.loads((folder / TAGGER_FILE).read_text())))
        tagger.load_state_dict(load_file(folder / TAGGER_WEIGHTS))
        return tagger.eval()


def distinct_words(text: str) -> int:
    """How many different words `text` holds, case and punctuation aside ("Oh, oh, oh," is one)."""
    return len({w for w in re.findall(r"\w+", text.lower())})


def tags_text(tags: list[tuple[str, float]], asked: list[tuple] | None = None) -> str:
    """What follows a clip's audio tokens (after its transcript, if any) when the model reads tags: its top tags,
    then the asked sounds' probabilities (and verdicts, for a tagger with an `asked_threshold`) when the prompt names
    any (`SoundTagger.asked_tags`)."""
    listed = ", ".join(f"{label} {p:.2f}" for label, p in tags) or "none"
    if asked:
        listed += "; asked: " + ", ".join(" ".join([name, f"{p:.2f}", *verdict]) for name, p, *verdict in asked)
    return f" (sound tags: {listed})"
