"""Frozen-encoder feature cache: Whisper outputs per window, computed once, reused across epochs and stages.

A window's entry is keyed by the sha256 of its 16 kHz float32 samples; entries live under a folder
named for the encoder's identity (its base name and a hash of its weights), so a different or
retrained encoder never reads another's features. Entries are stored as (T, C) tensors in
safetensors shards written atomically (temp file + rename); a shard's tensor names are the keys.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save
from tqdm.auto import tqdm

from alm.audio.io import load_audio
from alm.model.audio_tokens import split_windows
from alm.model.sound_encoder import sound_frames_on_grid
from alm.model.tagger import with_sound_frames
from alm.files import atomic_write_bytes
from alm.hashing import waveform_digest

logger = logging.getLogger(__name__)

SHARD_BYTES = 256 * 2**20  # a shard is written once this many bytes are pending
ENCODE_BATCH = 16  # windows per encoder call in the precompute pass
DTYPES = {"float16": torch.float16, "float32": torch.float32}


def default_cache_root() -> Path:
    from alm.weights.cache import alm_home

    return alm_home() / "feature-cache"


def encoder_identity(model) -> str:
    """`<base name>-<16 hex>`: the encoders' bases and a sha256 over their parameter names, shapes and bytes
    (Whisper's, and the sound encoder's when the model has one: the cache holds `encode_frames` outputs, so a sound
    encoder that feeds only the tagger, `sound_to_aligner: false`, whose frames are Whisper's alone, is named apart)."""
    named = f"{model.config.audio_base}|{model.config.sound_encoder or ''}"
    if model.config.sound_encoder and not getattr(model.config, "sound_to_aligner", True):
        named += "|tagger-only"  # appended only here, so the caches of every other model keep their names
    digest = hashlib.sha256(named.encode())
    encoders = {"audio_encoder": model.audio_encoder, "sound_encoder": model.sound_encoder}
    state = {f"{part}.{k}": v for part, module in encoders.items() if module is not None
             for k, v in module.state_dict().items()}
    for name, tensor in sorted(state.items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    base = str(model.config.audio_base).rstrip("/").replace("builtin:", "")
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", base.rsplit("/", 1)[-1])[:40] or "encoder"
    return f"{label}-{digest.hexdigest()[:16]}"


def window_key(window: np.ndarray) -> str:
    return waveform_digest(window)


class FeatureCache:
    """Encoder frames (T, C) per window key, in `<root>/<encoder_id>/shard-*.safetensors`."""

    def __init__(self, root: str | Path, encoder_id: str, dtype: str = "float16"):
        self.root, self.encoder_id, self.dtype_name = Path(root).expanduser(), encoder_id, dtype
        self.dir = self.root / encoder_id
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dtype = DTYPES[dtype]
        self.hits = 0  # windows found by `lookup` in this process
        self.misses = 0  # windows `lookup` did not find
        self.reload()

    def beside(self, suffix: str) -> "FeatureCache":
        """A cache of other entries of the same encoder (e.g. layer stats), in `<root>/<encoder_id><suffix>`."""
        return FeatureCache(self.root, self.encoder_id + suffix, self.dtype_name)

    def reload(self) -> None:
        """Re-read the shard headers (after other processes wrote shards)."""
        self._index: dict[str, str] = {}
        for shard in sorted(self.dir.glob("shard-*.safetensors")):
            with safe_open(str(shard), framework="pt") as f:
                for key in f.keys():
                    self._index[key] = shard.name
        self._handles: dict[str, object] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, key: str) -> bool:
        return key in self._index

    def get(self, key: str) -> torch.Tensor | None:
        """(T, C) float32 frames of one window, or None."""
        shard = self._index.get(key)
        if shard is None:
            return None
        if self._pid != os.getpid():  # a DataLoader worker: open its own handles
            self._handles, self._pid = {}, os.getpid()
        if shard not in self._handles:
            self._handles[shard] = safe_open(str(self.dir / shard), framework="pt")
        return self._handles[shard].get_tensor(key).float()

    def lookup(self, windows: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Frames (W, T, C) zero-padded, and lengths (W,), for windows in order; None if any is missing."""
        return self.lookup_keys([window_key(w) for w in windows])

    def lookup_keys(self, keys: list[str]) -> tuple[torch.Tensor, torch.Tensor] | None:
        """`lookup` by the windows' keys (`window_key`), for callers that stored them."""
        found = [self.get(k) for k in keys]
        missing = sum(f is None for f in found)
        self.hits += len(found) - missing
        self.misses += missing
        if missing:
            return None
        lengths = torch.tensor([f.shape[0] for f in found])
        frames = torch.zeros(len(found), int(lengths.max()), found[0].shape[1])  # W, T, C
        for i, f in enumerate(found):
            frames[i, : f.shape[0]] = f
        return frames, lengths

    def write_shard(self, entries: dict[str, torch.Tensor]) -> None:
        """Store entries as one new shard (temp file, then rename)."""
        if not entries:
            return
        name = f"shard-{uuid.uuid4().hex[:12]}.safetensors"
        atomic_write_bytes(self.dir / name, save({k: v.to(self.dtype).contiguous() for k, v in entries.items()}))
        for key in entries:
            self._index[key] = name


@torch.no_grad()
def precompute(cache: FeatureCache, model, processor, paths: list[str], rank: int = 0, num_processes: int = 1,
               progress: bool = True, clips: dict | None = None, stats_layers: int = 0,
               sound_block: bool = False) -> tuple[int, int]:
    """Encode every window of `paths[rank::num_processes]` not yet cached; returns (hits, misses). `clips`, if
    given, gets path -> (samples, window keys) for those paths (so training need not read the audio again).
    With `stats_layers` the entries are not frames but each window's stats of the last `stats_layers` Whisper
    layers, (K, 2C), what a sound tagger reading them is fit on (`alm.model.tagger`; a cache of their own); with
    `sound_block` too, the model's sound encoder's window stats as one more block, (K + 1, 2W) (`with_sound_frames`):
    what a tagger reads in a model whose sound encoder feeds the tagger alone (`sound_to_aligner: false`), whose
    frames cached for the aligner are Whisper's alone."""
    encoder = model.audio_encoder
    device = next(encoder.parameters()).device
    was_training = encoder.training
    encoder.eval()
    names = ("audio_mel", "audio_mel_lengths", "sound_features", "sound_lengths")
    hits = misses = 0
    queue: list[tuple[str, np.ndarray]] = []
    pending: dict[str, torch.Tensor] = {}
    pending_bytes = 0

    def encode(items):
        nonlocal pending_bytes
        items = sorted(items, key=lambda kw: len(kw[1]))
        for start in range(0, len(items), ENCODE_BATCH):
            chunk = items[start : start + ENCODE_BATCH]
            # Each window as its own clip: the processor makes exactly the mel that training would.
            batch = processor.audio_features([w for _, w in chunk])
            if stats_layers:
                frames, lengths, stats = encoder.encode(batch["audio_mel"].to(device),
                                                        batch["audio_mel_lengths"].to(device), stats_layers)  # W, K, 2C
                if sound_block:  # W, K, 2C -> W, K + 1, 2W, as `encode_windows` makes a tagger's stats
                    sound = sound_frames_on_grid(model.sound_encoder, batch["sound_features"].to(device),
                                                 batch["sound_lengths"].to(device), lengths, frames.shape[1])
                    stats = with_sound_frames(stats, sound, lengths)
                entries = list(stats)
            else:
                frames, lengths = model.encode_frames(**{k: batch[k].to(device) for k in names if k in batch})
                entries = [f[:n] for f, n in zip(frames, lengths.tolist())]  # each T, C
            for (key, _), entry in zip(chunk, entries):
                pending[key] = entry.to(cache.dtype).cpu().clone()
                pending_bytes += pending[key].numel() * pending[key].element_size()

    mine = sorted(set(paths))[rank::num_processes]
    queued: set[str] = set()
    bar = tqdm(mine, desc="layer stats" if stats_layers else "feature cache", unit="clip", disable=not progress,
               dynamic_ncols=True)
    for path in bar:
        wave = load_audio(path)
        keys = []
        for window in split_windows(wave, processor.spec.window_seconds):
            key = window_key(window)
            keys.append(key)
            if key in cache or key in queued:
                hits += 1
                continue
            misses += 1
            queued.add(key)
            queue.append((key, window))
        if clips is not None:
            clips[path] = (len(wave), keys)
        if len(queue) >= 8 * ENCODE_BATCH:
            encode(queue)
            queue = []
        if pending_bytes >= SHARD_BYTES:
            cache.write_shard(pending)
            pending, pending_bytes = {}, 0
        bar.set_postfix(hits=hits, misses=misses, refresh=False)
    encode(queue)
    cache.write_shard(pending)
    bar.close()
    encoder.train(was_training)
    return hits, misses
