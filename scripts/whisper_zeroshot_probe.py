"""Does Whisper's own decoder name held-out sounds? A probe before any use: Whisper's decoder was trained on
subtitles, which mark sounds in brackets ("(dog barking)", "[MUSIC]"), so it can score a class name as the transcript
of a clip. Rouditchenko et al. 2023 ("Whisper as a zero-shot audio classifier") rank labels by the log-likelihood of
`(label)` after the transcribe prompt, minus the same under silence (calibration, so a label is not favoured for
being short or common). Its evidence is not fit on the corpus' sources, so it could fail differently from the tagger.

    .venv/bin/python scripts/musicnn_probe.py draw --corpus data/corpus-v3 --out /tmp/mprobe   # if not there yet
    .venv/bin/python scripts/whisper_zeroshot_probe.py --out /tmp/mprobe --items 40

Scores every label of the tagger's vocabulary on a seeded draw of `--items` held-out class benchmark items and prints
per item the three best labels, raw and calibrated, then for each the items whose reference is the first label, among
the first five, and the reference's median rank. `--whisper` takes any transformers Whisper folder or Hub id (with a
network, a larger Whisper). Measured with Whisper-base (training/README.md, "The v5 candidate"): no better than
chance at the first label, so it was not used."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
PREFIX = ("<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>")


class LabelScorer:
    """Summed log-probabilities of label token sequences after Whisper's transcribe prompt, for one clip at a time.
    The decoder runs by hand so that the encoder's keys and values are projected once per clip, not once per label."""

    def __init__(self, folder: str, labels: list[str], templates: list[str]):
        from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizer

        self.model = WhisperForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).eval()
        self.features = WhisperFeatureExtractor.from_pretrained(folder)
        tokenizer = WhisperTokenizer.from_pretrained(folder)
        prefix = tokenizer.convert_tokens_to_ids(list(PREFIX))
        self.sequences = []  # one (ids, mask) batch per template: L, T
        for template in templates:
            ids = [prefix + tokenizer.encode(template.format(label), add_special_tokens=False)
                   + [tokenizer.eos_token_id] for label in labels]
            width = max(map(len, ids))
            mask = torch.tensor([[0] * len(prefix) + [1] * (len(s) - len(prefix)) + [0] * (width - len(s))
                                 for s in ids])
            self.sequences.append((torch.tensor([s + [0] * (width - len(s)) for s in ids]), mask))

    @torch.inference_mode()
    def scores(self, wave: np.ndarray) -> np.ndarray:
        """(templates, L) summed log-probabilities of each label's tokens (closing bracket and end of text included)."""
        mel = self.features(wave, sampling_rate=16000, return_tensors="pt").input_features
        encoded = self.model.model.encoder(mel).last_hidden_state  # 1, 1500, C
        return np.stack([self._score(encoded, ids, mask) for ids, mask in self.sequences])

    def _score(self, encoded: torch.Tensor, ids: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
        decoder = self.model.model.decoder
        n, width = ids.shape
        x = decoder.embed_tokens(ids) + decoder.embed_positions.weight[:width]  # L, T, C
        causal = torch.full((width, width), float("-inf")).triu(1)
        for layer in decoder.layers:
            x = x + self._attend(layer.self_attn, layer.self_attn_layer_norm(x), None, causal)
            x = x + self._attend(layer.encoder_attn, layer.encoder_attn_layer_norm(x), encoded, None)
            h = layer.final_layer_norm(x)
            x = x + layer.fc2(layer.activation_fn(layer.fc1(h)))
        rows, steps = mask[:, 1:].nonzero(as_tuple=True)  # only where a label token is predicted: P
        hidden = decoder.layer_norm(x[rows, steps])  # P, C
        logits = self.model.proj_out(hidden)  # P, V
        logp = logits.gather(1, ids[rows, steps + 1][:, None])[:, 0] - logits.logsumexp(1)  # P
        return torch.zeros(n).index_add_(0, rows, logp).numpy()

    @staticmethod
    def _attend(attn, x: torch.Tensor, memory: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
        heads = attn.num_heads
        n, width, c = x.shape
        q = (attn.q_proj(x) * attn.scaling).view(n, width, heads, -1).transpose(1, 2)  # L, H, T, D
        if memory is None:  # self-attention, causal
            k = attn.k_proj(x).view(n, width, heads, -1).transpose(1, 2)  # L, H, T, D
            v = attn.v_proj(x).view(n, width, heads, -1).transpose(1, 2)
            out = ((q @ k.transpose(-1, -2) + bias).softmax(-1) @ v).transpose(1, 2)  # L, T, H, D
        else:  # every label's queries against the clip's one set of keys: H, L x T, D
            k = attn.k_proj(memory[0]).view(-1, heads, c // heads).transpose(0, 1)  # H, S, D
            v = attn.v_proj(memory[0]).view(-1, heads, c // heads).transpose(0, 1)
            q = q.transpose(0, 1).reshape(heads, n * width, -1)
            out = (torch.bmm(q, k.transpose(1, 2)).softmax(-1) @ v).view(heads, n, width, -1).permute(1, 2, 0, 3)
        return attn.out_proj(out.reshape(n, width, c))


def rank(args) -> None:
    import random

    sys.path.insert(0, str(ROOT))
    from alm.audio.io import read_audio

    d = torch.load(Path(args.out) / "draw.pt")
    n, m, t, b = d["n"]
    paths = json.loads((Path(args.out) / "paths.json").read_text())
    vocab = d["vocab"]
    scorer = LabelScorer(str(Path(args.whisper).expanduser()), vocab, args.templates)
    silence = scorer.scores(np.zeros(16000, np.float32)).mean(0)  # L
    ranks: dict[str, list[int]] = {"raw": [], "calibrated": []}
    for i in random.Random(0).sample(range(n + m + t, n + m + t + b), args.items):
        raw = scorer.scores(read_audio(paths[i])).mean(0)  # L: templates averaged
        reference, shown = d["labels"][i][0], {}
        for name, value in (("raw", raw), ("calibrated", raw - silence)):
            order = [vocab[k] for k in np.argsort(-value)]
            shown[name] = order[:3]
            if reference in order:
                ranks[name].append(order.index(reference))
        print(json.dumps({"reference": reference, **shown}), flush=True)
    for name, r in ranks.items():
        print(json.dumps({"scores": name, "items_in_vocabulary": len(r), "first": sum(x == 0 for x in r),
                          "among_first_5": sum(x < 5 for x in r), "median_rank": float(np.median(r)),
                          "labels": len(vocab)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="the folder `scripts/musicnn_probe.py draw` wrote draw.pt into")
    ap.add_argument("--whisper", default="~/.cache/alm/bases/whisper-base", help="a transformers Whisper folder")
    ap.add_argument("--items", type=int, default=40, help="benchmark items drawn (seed 0)")
    ap.add_argument("--templates", nargs="+", default=[" ({})"], help="label templates, scores averaged")
    rank(ap.parse_args())


if __name__ == "__main__":
    main()
