"""Pooled features of the frozen audio encoder, cached on disk: what the encoder probe (`eval.probe`) is fit on.

A clip's feature is the mean over its real frames of the Whisper encoder's last layer, the encoder
run at each window's own length (`alm.model.audio_encoder.WhisperAudioEncoder` on
`alm.audio.features.mel_windows`, as alm feeds its aligner), so padding never enters the mean.
Features are cached per encoder (its name and a fingerprint of its files) in one `.npz` under the
run's cache folder, keyed by the clip's path, cut, size and modification time; the file is
rewritten atomically as features accumulate, so a rerun (or an interrupted one) encodes only what
is new.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from alm.errors import WeightsError
from eval.data import AudioRef

SAVE_EVERY = 512  # clips encoded between two rewrites of the cache file


def clip_key(ref: AudioRef) -> str:
    return hashlib.sha256(json.dumps(ref.stamp()).encode()).hexdigest()[:32]


class PooledFeatures:
    """`features(refs) -> (N, C)`: the encoder `name` (a built-in base, a folder or a Hub id) mean-pooled per clip."""

    def __init__(self, name: str, cache_dir: str | Path | None, device: str = "cpu", batch_size: int = 16,
                 progress: bool = True) -> None:
        """Nothing is resolved or loaded until features are asked for."""
        self.name, self.device, self.batch_size, self.progress = name, device, max(1, batch_size), progress
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.path = self.identity = ""
        self.cache_path: Path | None = None
        self._cache: dict[str, np.ndarray] | None = None
        self._model = None

    # ------------------------------------------------------------------ cache
    def _open(self) -> dict[str, np.ndarray]:
        """The encoder's folder, identity (name + fingerprint of its files) and cached features, found once."""
        if self._cache is None:
            from alm.hashing import folder_fingerprint
            from alm.weights import resolve_base

            self.path = resolve_base(self.name)
            label = str(self.name).rstrip("/").replace("builtin:", "").rsplit("/", 1)[-1][:40]
            fingerprint = (folder_fingerprint(self.path) if Path(self.path).is_dir()
                           else hashlib.sha256(self.path.encode()).hexdigest()[:16])
            self.identity = f"{label}-{fingerprint}"
            self.cache_path = self.cache_dir / f"encoder-{self.identity}.npz" if self.cache_dir else None
            self._cache = {}
            if self.cache_path is not None and self.cache_path.is_file():
                with np.load(self.cache_path) as f:
                    self._cache = dict(zip(f["keys"].tolist(), f["features"]))
        return self._cache

    def _save(self) -> None:
        import io

        from alm.files import atomic_write_bytes

        if self.cache_path is None or not self._cache:
            return
        buf = io.BytesIO()
        np.savez(buf, keys=np.array(list(self._cache)), features=np.stack(list(self._cache.values())))
        atomic_write_bytes(self.cache_path, buf.getvalue())

    # ------------------------------------------------------------------ encoder
    def _load(self):
        if self._model is None:
            from transformers import WhisperFeatureExtractor, WhisperModel

            from alm.model.audio_encoder import WhisperAudioEncoder

            try:
                whisper = WhisperModel.from_pretrained(self.path)
            except (OSError, ValueError) as exc:
                raise WeightsError(f"cannot load the probe's encoder {self.name!r}: "
                                   f"{(str(exc).strip().splitlines() or [type(exc).__name__])[0]}") from None
            config = whisper.config
            encoder = WhisperAudioEncoder(config, whisper.encoder).to(self.device).eval()
            extractor = WhisperFeatureExtractor(feature_size=config.num_mel_bins)
            # the longest window the encoder takes: its positions, 2 mel frames each, 160 samples a frame
            window_seconds = config.max_source_positions * 2 * 160 / extractor.sampling_rate
            self._model = (encoder, extractor, window_seconds)
        return self._model

    def _encode(self, refs: list[AudioRef], desc: str) -> None:
        """Encode `refs` (not cached yet) window by window, shortest first, and cache their means."""
        import torch
        from tqdm import tqdm

        from alm.audio.features import mel_windows, pad_windows
        from eval.runners import read_clip

        encoder, extractor, window_seconds = self._load()
        sums: dict[int, np.ndarray] = {}
        counts: dict[int, int] = {}
        with tqdm(total=len(refs), desc=desc, unit="clip", disable=not self.progress, leave=False,
                  dynamic_ncols=True) as bar:
            for start in range(0, len(refs), SAVE_EVERY):
                part = refs[start: start + SAVE_EVERY]
                windows = [(i, m) for i, ref in enumerate(part)
                           for m in mel_windows(read_clip(ref), window_seconds, extractor)]  # each M, Tm
                windows.sort(key=lambda w: w[1].shape[-1])
                sums.clear()
                counts.clear()
                for b in range(0, len(windows), self.batch_size):
                    batch = windows[b: b + self.batch_size]
                    mel = pad_windows([m for _, m in batch]).to(self.device)  # W, M, Tm
                    lengths = torch.tensor([m.shape[-1] for _, m in batch], device=self.device)
                    with torch.inference_mode():
                        frames, frame_lengths = encoder(mel, lengths)  # W, T, C
                    for (i, _), f, n in zip(batch, frames.float().cpu().numpy(), frame_lengths.tolist()):
                        sums[i] = sums.get(i, 0.0) + f[:n].sum(0)  # C
                        counts[i] = counts.get(i, 0) + n
                for i, ref in enumerate(part):
                    self._open()[clip_key(ref)] = (sums[i] / counts[i]).astype(np.float32)
                bar.update(len(part))
                self._save()

    def features(self, refs: list[AudioRef], desc: str = "encoder features") -> np.ndarray:
        """(N, C) float32: each clip's mean frame, from the cache or encoded now."""
        cache = self._open()
        keys = [clip_key(r) for r in refs]
        todo = list({k: r for k, r in zip(keys, refs) if k not in cache}.values())
        if todo:
            self._encode(todo, desc)
        return np.stack([cache[k] for k in keys]) if refs else np.zeros((0, 0), np.float32)
