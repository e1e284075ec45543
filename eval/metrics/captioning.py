"""Caption metrics: BLEU-1..4, METEOR, ROUGE-L, CIDEr-D (pycocoevalcap), embedding similarity,
and SPICE / SPIDEr when the user supplies the Stanford CoreNLP 3.6.0 jars.

pycocoevalcap's `Cider` is CIDEr-D (clipped n-gram counts, Gaussian length penalty, x10).
Captions are PTB-tokenised and lower-cased with the tokenizer jar pycocoevalcap ships (Java);
without Java a Python tokenizer that follows the same rules is used and METEOR is reported as
unavailable. SPICE needs `stanford-corenlp-3.6.0.jar` and `stanford-corenlp-3.6.0-models.jar`,
which no package registry ships; without them SPICE and SPIDEr are reported as unavailable,
never estimated.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from alm.errors import AlmError

CORENLP_JARS = ("stanford-corenlp-3.6.0.jar", "stanford-corenlp-3.6.0-models.jar")
PTB_PUNCTUATION = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--",
                   "...", ";"}
EMPTY = "_"  # stands for an empty caption after tokenisation (scores 0 against any reference)


def _require_pycocoevalcap():
    try:
        import pycocoevalcap  # noqa: F401
    except ImportError:
        raise AlmError("caption metrics need pycocoevalcap: pip install 'alm[eval]' (pycocoevalcap==1.2)") from None


def have_java() -> bool:
    return shutil.which("java") is not None


def simple_tokenize(text: str) -> str:
    """A Python stand-in for PTBTokenizer -lowerCase with punctuation removed."""
    text = text.replace("\n", " ").lower()
    text = re.sub(r"n't\b", " n't", text)
    text = re.sub(r"'(s|re|ve|ll|d|m)\b", r" '\1", text)
    tokens = re.findall(r"n't|'\w+|\w+(?:[.,]\d+)*|[^\w\s]", text)
    return " ".join(t for t in tokens if t not in PTB_PUNCTUATION)


def tokenize(captions: dict[str, list[str]], java: bool | None = None) -> dict[str, list[str]]:
    """{id: [caption, ...]} -> the same, PTB-tokenised, lower case, punctuation dropped."""
    java = have_java() if java is None else java
    keys = [k for k, v in captions.items() for _ in v]
    flat = [" ".join(c.split()) for v in captions.values() for c in v]  # one line per caption
    tokenized = _ptb_tokenize(flat) if java else [simple_tokenize(c) for c in flat]
    out: dict[str, list[str]] = {k: [] for k in captions}
    for k, line in zip(keys, tokenized):
        out[k].append(line)
    return {k: [c if c.strip() else EMPTY for c in v] for k, v in out.items()}


def _ptb_tokenize(lines: list[str]) -> list[str]:
    """pycocoevalcap's PTBTokenizer call (same jar and flags), without its temp file in site-packages."""
    from pycocoevalcap.tokenizer import ptbtokenizer

    jar = Path(ptbtokenizer.__file__).parent / ptbtokenizer.STANFORD_CORENLP_3_4_1_JAR
    with tempfile.TemporaryDirectory(prefix="alm-ptb-") as tmp:
        src = Path(tmp) / "captions.txt"
        src.write_text("\n".join(lines) + "\n", encoding="utf-8")
        proc = subprocess.run(["java", "-cp", str(jar), "edu.stanford.nlp.process.PTBTokenizer", "-preserveLines",
                               "-lowerCase", str(src)], capture_output=True, text=True, encoding="utf-8")
    if proc.returncode != 0:
        raise AlmError(f"the PTB tokenizer (Java) failed: {proc.stderr.strip()[-300:]}")
    out = proc.stdout.split("\n")[: len(lines)]
    out += [""] * (len(lines) - len(out))
    return [" ".join(w for w in line.rstrip().split(" ") if w and w not in PTB_PUNCTUATION) for line in out]


def corenlp_jars(folder: str | Path | None) -> list[Path] | None:
    """The two CoreNLP 3.6.0 jars in `folder`, or None when the folder or a jar is missing."""
    if not folder:
        return None
    paths = [Path(folder).expanduser() / name for name in CORENLP_JARS]
    return paths if all(p.is_file() for p in paths) else None


def spice(gts: dict[str, list[str]], res: dict[str, list[str]], jars: list[Path]) -> tuple[float, list[float]]:
    """SPICE F-score with pycocoevalcap's spice-1.0.jar and the user's CoreNLP jars (no cache)."""
    from pycocoevalcap import spice as spice_pkg

    spice_dir = Path(spice_pkg.__file__).parent
    classpath = ":".join([str(spice_dir / "spice-1.0.jar"), str(spice_dir / "lib" / "*"), *map(str, jars)])
    ids = sorted(gts)
    with tempfile.TemporaryDirectory(prefix="alm-spice-") as tmp:
        src, dst = Path(tmp) / "in.json", Path(tmp) / "out.json"
        src.write_text(json.dumps([{"image_id": i, "test": res[i][0], "refs": gts[i]} for i in ids]))
        cmd = ["java", "-Xmx8G", "-cp", classpath, "edu.anu.spice.SpiceScorer", str(src), "-out", str(dst),
               "-subset", "-silent"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not dst.is_file():
            raise AlmError(f"SPICE failed: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
        by_id = {str(r["image_id"]): float(r["scores"]["All"]["f"]) for r in json.loads(dst.read_text())}
    per_item = [by_id[i] for i in ids]
    return float(np.mean(per_item)), per_item


class CaptionScorer:
    """Scores several systems (model, no-audio, baselines) against one set of references.

    One METEOR process serves every system; references are tokenised once.
    """

    def __init__(self, references: list[list[str]], *, meteor: bool = True, embedder=None,
                 corenlp_dir: str | Path | None = None, java: bool | None = None) -> None:
        _require_pycocoevalcap()
        if any(not refs for refs in references):
            raise AlmError("every captioning item needs at least one reference caption")
        self.references = references
        self.ids = [str(i) for i in range(len(references))]
        self.java = have_java() if java is None else java
        self.gts = tokenize(dict(zip(self.ids, references)), self.java)
        self.embedder = embedder
        self.unavailable: dict[str, str] = {}
        self._meteor = None
        if meteor and not self.java:
            self.unavailable["meteor"] = "unavailable: Java not found (METEOR runs meteor-1.5.jar)"
        elif meteor:
            from pycocoevalcap.meteor.meteor import Meteor

            self._meteor = Meteor()
        self.jars = corenlp_jars(corenlp_dir)
        if self.jars is None:
            why = (f"{corenlp_dir} lacks {' or '.join(CORENLP_JARS)}" if corenlp_dir
                   else "needs the Stanford CoreNLP 3.6.0 jars (--corenlp DIR)")
            self.unavailable["spice"] = self.unavailable["spider"] = f"unavailable: {why}"
        elif not self.java:
            self.unavailable["spice"] = self.unavailable["spider"] = "unavailable: Java not found"

    def close(self) -> None:
        if self._meteor is not None:
            with contextlib.suppress(Exception):
                self._meteor.meteor_p.stdin.close()
                self._meteor.meteor_p.kill()
                self._meteor.meteor_p.wait(timeout=5)
            self._meteor = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def score(self, predictions: list[str]) -> tuple[dict[str, float | str], dict[str, list[float]]]:
        """(corpus scores, per-item scores) for one system's captions, in reference order."""
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge

        if len(predictions) != len(self.references):
            raise ValueError("one prediction per item is needed")
        res = tokenize({i: [p] for i, p in zip(self.ids, predictions)}, self.java)
        scores: dict[str, float | str] = {}
        per_item: dict[str, list[float]] = {}
        with contextlib.redirect_stdout(io.StringIO()):  # pycocoevalcap prints its statistics
            bleu, bleu_items = Bleu(4).compute_score(self.gts, res, verbose=0)
        for n in range(4):
            scores[f"bleu_{n + 1}"] = float(bleu[n])
        per_item["bleu_4"] = [float(x) for x in bleu_items[3]]
        rouge, rouge_items = Rouge().compute_score(self.gts, res)
        scores["rouge_l"], per_item["rouge_l"] = float(rouge), [float(x) for x in rouge_items]
        cider, cider_items = Cider().compute_score(self.gts, res)
        scores["cider_d"], per_item["cider_d"] = float(cider), [float(x) for x in cider_items]
        if self._meteor is not None:
            meteor, meteor_items = self._meteor.compute_score(self.gts, res)
            scores["meteor"], per_item["meteor"] = float(meteor), [float(x) for x in meteor_items]
        if self.embedder is not None:
            sims = self.embedding_similarity(predictions)
            scores["embedding_similarity"], per_item["embedding_similarity"] = float(np.mean(sims)), sims
        if self.jars is not None and self.java:
            value, items = spice(self.gts, res, self.jars)
            scores["spice"], per_item["spice"] = value, items
            scores["spider"] = (scores["cider_d"] + value) / 2
        scores.update(self.unavailable)
        return scores, per_item

    def embedding_similarity(self, predictions: list[str]) -> list[float]:
        """Per item: mean cosine similarity of the caption to each of its references."""
        flat = [r for refs in self.references for r in refs]
        ref_vecs = self.embedder.encode(flat)
        pred_vecs = self.embedder.encode(predictions)
        out, k = [], 0
        for vec, refs in zip(pred_vecs, self.references):
            out.append(float((ref_vecs[k: k + len(refs)] @ vec).mean()))
            k += len(refs)
        return out
