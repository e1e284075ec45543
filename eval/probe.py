"""The floor a classifier must beat: probes on the frozen audio encoder's pooled features.

If a plain linear classifier on the encoder's mean frame (`eval.encoder_features`), fit on the
corpus's training split, names the class of a test clip more often than the model does, the
model loses information the encoder already has: the loss is in the aligner, the LLM, the
training or the data, not in the encoder. Two probes are fit on the training split's records of
the benchmark's classes (at most `per_class` clips of each, a seeded draw):

- a linear probe: multinomial logistic regression on standardised features, L2-penalised as
  scikit-learn's `LogisticRegression()` default (C=1: the summed cross-entropy plus half the
  squared weights), fit with L-BFGS in float64 from zero weights (deterministic);
- nearest class centroid: the class whose mean standardised training feature is closest in cosine.

Both predict among the benchmark's classes that the training split has; an item whose class it
lacks counts as wrong (their number is reported). The linear probe's accuracy is the `probe`
system of the benchmark's scores; a headline that does not beat it is flagged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from eval.data import AudioRef, BenchmarkData, Item, cap_per_class, offline_reference
from eval.encoder_features import PooledFeatures
from eval.metrics.classification import accuracy, per_class_accuracy
from eval.metrics.collapse import top_share
from eval.registry import Benchmark
from eval.scored import PROBE, Scored

MAX_ITER = 500  # L-BFGS iterations (the loss is convex; it stops earlier when the gradient is flat)


@dataclass
class ProbeSettings:
    encoder: str                 # the encoder's base: builtin:whisper-base, a folder, a Hub id
    per_class: int = 40          # training clips per class, at most (bounds the encoding time)
    device: str = "cpu"
    batch_size: int = 16


def training_items(bench: Benchmark, data: BenchmarkData, per_class: int) -> list[Item]:
    """The training split's records of the benchmark's classes, one per clip, at most `per_class` per class."""
    from instruction_data.loader import load_split

    wanted = set(data.labels)
    items: dict[tuple[str, ...], Item] = {}
    for r in load_split("train", data.corpus, tasks=bench.data.tasks):
        ref = offline_reference(bench, r, r.metadata)
        if ref is not None and ref["label"] in wanted and len(r.sound) == 1:
            items.setdefault(tuple(r.sound), Item(r.id, [AudioRef(r.sound[0])], "", ref))
    return cap_per_class(list(items.values()), per_class, bench.seed)


def standardise(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    mean, std = train.mean(0), train.std(0) + 1e-6
    return [(x - mean) / std for x in (train, *others)]


def fit_linear(x: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(W (D, K), b (K,)) of an L2-penalised multinomial logistic regression (see the module docstring)."""
    import torch

    xt, yt = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.long)
    w = torch.zeros(x.shape[1], n_classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(n_classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=MAX_ITER, line_search_fn="strong_wolfe", tolerance_grad=1e-7,
                            history_size=20)

    def loss():
        opt.zero_grad()
        value = torch.nn.functional.cross_entropy(xt @ w + b, yt, reduction="sum") + 0.5 * (w * w).sum()
        value.backward()
        return value

    opt.step(loss)
    return w.detach().numpy(), b.detach().numpy()


def centroid_predict(x_train: np.ndarray, y: np.ndarray, n_classes: int, x: np.ndarray) -> np.ndarray:
    """Index of the nearest class mean (cosine) for each row of x."""
    means = np.stack([x_train[y == k].mean(0) for k in range(n_classes)])  # K, D
    means /= np.linalg.norm(means, axis=1, keepdims=True) + 1e-12
    return (x / (np.linalg.norm(x, axis=1, keepdims=True) + 1e-12) @ means.T).argmax(1)


def run_probe(bench: Benchmark, data: BenchmarkData, features: PooledFeatures,
              settings: ProbeSettings) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]] | str:
    """(scores, details, per-item predictions) of the probes on the benchmark's items, or why there are none."""
    train = training_items(bench, data, settings.per_class)
    classes = sorted({it.reference["label"] for it in train})
    if len(classes) < 2:
        return (f"the training split of {data.corpus} has {len(classes)} class(es) of this benchmark "
                "(a probe needs two)")
    index = {c: k for k, c in enumerate(classes)}
    y = np.array([index[it.reference["label"]] for it in train])
    x_train = features.features([it.audio[0] for it in train], desc=f"{bench.name} [probe: training clips]")
    x_test = features.features([it.audio[0] for it in data.items], desc=f"{bench.name} [probe: items]")
    x_train, x_test = standardise(x_train, x_test)
    w, b = fit_linear(x_train, y, len(classes))
    linear = [classes[k] for k in (x_test @ w + b).argmax(1)]
    centroid = [classes[k] for k in centroid_predict(x_train, y, len(classes), x_test)]
    truth = [it.reference["label"] for it in data.items]
    unseen = Counter(t for t in truth if t not in index)
    scores = {"accuracy": accuracy(truth, linear), "centroid_accuracy": accuracy(truth, centroid),
              "top_answer_share": top_share(linear)[1]}
    details = {"encoder": settings.encoder, "encoder_identity": features.identity,
               "training_clips": len(train), "classes": len(classes), "per_class": settings.per_class,
               "unseen_classes": dict(unseen.most_common()), "per_class_accuracy": per_class_accuracy(truth, linear)}
    rows = [{"label": p, "correct": p == t, "centroid": c} for p, c, t in zip(linear, centroid, truth)]
    return scores, details, rows


def add_probe(scored: Scored, result: tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]],
              settings: ProbeSettings) -> None:
    """The probe as a system of the benchmark's scores, its details under `breakdown["probe"]`."""
    scores, details, rows = result
    scored.scores[PROBE] = scores
    scored.baselines[PROBE] = (f"a linear probe on {settings.encoder}'s mean-pooled encoder features, fit on "
                               f"{details['training_clips']} training clips of {details['classes']} classes (at most "
                               f"{settings.per_class} per class); nearest class centroid: `centroid_accuracy`")
    scored.breakdown["probe"] = details
    for row, pred in zip(scored.items, rows):
        row[PROBE] = pred
