"""Look for near-duplicates of the independent set's clips in the training corpus (and inside the set).

    .venv/bin/python scripts/independent_ood/check_overlap.py [SET_DIR] [CORPUS_DIR]

SET_DIR defaults to data/independent-ood/0ad-stk-flare, CORPUS_DIR to data/corpus-v4 (its clips.jsonl
and rendered audio/). Every non-speech corpus clip that was read from a real recording (recipe op file, zip,
rcc) is compared. Each clip's first 10 s become a log band-energy matrix (40 log-spaced bands, 50 Hz-8 kHz,
~23 ms frames; rate-independent, no resampling); a mean/std spectral profile shortlists the 5 nearest
corpus clips per set clip, then the frame matrices (band and frame means removed) are correlated over
lags up to +-2 s. A peak
correlation >= 0.9 over >= 0.5 s of overlap is reported as a likely copy. numpy + soundfile only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[2]
SET_DIR = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "data/independent-ood/0ad-stk-flare"
CORPUS = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "data/corpus-v4"
EDGES = np.geomspace(50, 8000, 41)
HOP_S, WIN_S, MAX_S, LAG_S = 0.023, 0.046, 10.0, 2.0
THRESHOLD = 0.9


def features(path: Path) -> np.ndarray | None:
    try:
        audio, sr = sf.read(str(path), frames=-1, dtype="float32", always_2d=True)
    except Exception as exc:  # noqa: BLE001
        print(f"  unreadable: {path}: {exc}", file=sys.stderr)
        return None
    x = audio[: int(MAX_S * sr)].mean(axis=1)
    win, hop = int(WIN_S * sr), int(HOP_S * sr)
    if len(x) < win:
        x = np.pad(x, (0, win - len(x)))
    n = 1 + (len(x) - win) // hop
    frames = np.lib.stride_tricks.as_strided(x, (n, win), (x.strides[0] * hop, x.strides[0]))
    spec = np.abs(np.fft.rfft(frames * np.hanning(win), axis=1)) ** 2
    freqs = np.fft.rfftfreq(win, 1 / sr)
    masks = [(freqs >= lo) & (freqs < hi) for lo, hi in zip(EDGES[:-1], EDGES[1:])]  # an empty band sums to 0
    bands = np.stack([spec[:, m].sum(axis=1) for m in masks], axis=1)  # frames, 40
    return np.log10(bands + 1e-10)


def profile(feat: np.ndarray) -> np.ndarray:
    v = np.concatenate([feat.mean(0), feat.std(0)])
    v = v - v.mean()
    return v / (np.linalg.norm(v) + 1e-9)


def _centred(m: np.ndarray) -> np.ndarray:
    """Band means and frame means removed: what is left is the clip's own time-frequency pattern, so two
    different sounds with the same spectral tilt do not correlate."""
    m = m - m.mean(axis=0, keepdims=True)
    return m - m.mean(axis=1, keepdims=True)


def best_lag_corr(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Highest Pearson correlation of the two matrices over frame lags (min overlap 0.5 s); (corr, lag s)."""
    max_lag, min_len = int(LAG_S / HOP_S), int(0.5 / HOP_S)
    best = (-1.0, 0.0)
    for lag in range(-max_lag, max_lag + 1):
        x, y = (a[lag:], b) if lag >= 0 else (a, b[-lag:])
        m = min(len(x), len(y))
        if m < min(min_len, len(a), len(b)):
            continue
        u, v = _centred(x[:m]).ravel(), _centred(y[:m]).ravel()
        c = float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9))
        if c > best[0]:
            best = (c, lag * HOP_S)
    return best


def main() -> None:
    ours = sorted(p for p in SET_DIR.glob("*/*") if p.suffix.lower() in (".ogg", ".wav", ".flac", ".mp3"))
    if not ours:
        sys.exit(f"error: {SET_DIR}: no audio clips (<label>/<clip>.ogg|wav|flac|mp3); build it with build.sh")
    corpus = []
    for line in (CORPUS / "clips.jsonl").open():
        c = json.loads(line)
        if c["recipe"].get("op") in ("file", "zip", "rcc") and c.get("class") != "speech":
            corpus.append((c["clip_id"], c.get("class"), c.get("origin"), CORPUS / c["audio"]))
    print(f"{len(ours)} set clips vs {len(corpus)} real-recording non-speech corpus clips")
    f_ours = {p: features(p) for p in ours}
    f_corp = {}
    for i, (cid, cls, origin, path) in enumerate(corpus):
        f_corp[cid] = features(path)
        if i % 500 == 0:
            print(f"  corpus {i}/{len(corpus)}", file=sys.stderr)
    corp_ids = [c for c in f_corp if f_corp[c] is not None]
    meta = {c[0]: c for c in corpus}
    P = np.stack([profile(f_corp[c]) for c in corp_ids])
    hits = []
    for p, f in f_ours.items():
        if f is None:
            continue
        sims = P @ profile(f)
        for j in np.argsort(-sims)[:5]:
            corr, lag = best_lag_corr(f, f_corp[corp_ids[j]])
            if corr >= THRESHOLD:
                cid = corp_ids[j]
                hits.append((corr, p.relative_to(SET_DIR), cid, meta[cid][1], meta[cid][2], lag))
    within = []
    keys = [p for p in ours if f_ours[p] is not None]
    Q = np.stack([profile(f_ours[p]) for p in keys])
    S = Q @ Q.T
    for i in range(len(keys)):
        for j in np.argsort(-S[i])[1:4]:
            if j > i:
                corr, lag = best_lag_corr(f_ours[keys[i]], f_ours[keys[j]])
                if corr >= THRESHOLD:
                    within.append((corr, keys[i].relative_to(SET_DIR), keys[j].relative_to(SET_DIR), lag))
    print(f"\nlikely copies in the corpus (corr >= {THRESHOLD}): {len(hits)}")
    for corr, ours_p, cid, cls, origin, lag in sorted(hits, reverse=True):
        print(f"  {corr:.3f}  {ours_p}  ~  {cid} ({origin}, class {cls}, lag {lag:+.2f} s)")
    print(f"\nlikely copies inside the set: {len(within)}")
    for corr, a, b, lag in sorted(within, reverse=True):
        print(f"  {corr:.3f}  {a}  ~  {b} (lag {lag:+.2f} s)")


if __name__ == "__main__":
    main()
