"""Where the time of one answer goes, and how close decoding gets to what memory bandwidth allows.

    alm bench answer                          # alm-tiny, examples/announcement.flac (10 s of speech)
    alm bench answer --clip chord --reps 7    # a 10 s synthetic chord (no speech) instead

Two assistants are loaded in one process and measured in turn, rep after rep, so a noisy machine
slows both alike: `reference` (`Assistant.load(fast=False)`: float32, the LoRA as a peft wrapper,
transformers' Whisper and `generate`: the path before issue 12) and `fast` (the default load).
For each it reports the median over reps of: audio load, log-mel, encoder, aligner, transcript,
sound tags (a model with a tagger: the tagger's pass, which on the default path also encodes the clip for
generation to reuse), LLM prefill, time to first token (mel to first new token, transcript and tags included),
decode tokens/s (`--decode-tokens` new tokens, end-of-turn ignored), and the whole warm answer (`answer()` on
the file: load, transcript, tags, generation) with its token count. The assistant's transcript memory and
encoder-frames cache are emptied before each part, so the clip is never found already encoded. The decode
bound is the LLM's bytes read per token (every weight, the tied embedding once) over a measured memory copy
rate (bytes copied per second by one large tensor copy, the median of several); the share of it reached is
printed.
A copy also writes what it reads, so a decode step, which only reads its weights, can pass that
bound (up to ~2x); the stricter read bound (bytes per second one large tensor sum reads: about twice
the copy rate here) and the share of it are printed beside it.
Medians, the load average before and after, and the ratios fast/reference go to the JSON.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from alm.files import atomic_write_json

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLIP = REPO / "examples" / "announcement.flac"
QUESTION = "What do you hear?"
PARTS = ("audio_load_s", "mel_s", "encoder_s", "aligner_s", "transcript_s", "tags_s", "prefill_s", "ttft_s",
         "decode_tok_s", "answer_s", "answer_tokens")


def chord(seconds: float = 10.0) -> np.ndarray:
    """The serving benchmark's clip: a chord with a changing tone (no speech)."""
    from serve.bench import clip

    return clip(seconds)


def _bytes_per_second(op, nbytes: int, reps: int) -> float:
    """`nbytes` over the median time of `reps` calls of `op` (after one untimed call)."""
    op()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        op()
        times.append(time.perf_counter() - start)
    return nbytes / statistics.median(times)


def copy_bandwidth(megabytes: int = 256, reps: int = 9) -> float:
    """Bytes per second one large float32 tensor copy moves (read side), the median of `reps`."""
    src = torch.ones(megabytes * 2**20 // 4)
    dst = torch.empty_like(src)
    return _bytes_per_second(lambda: dst.copy_(src), src.numel() * 4, reps)


def read_bandwidth(megabytes: int = 256, reps: int = 9) -> float:
    """Bytes per second one large float32 tensor sum reads (it writes nothing), the median of `reps`."""
    src = torch.ones(megabytes * 2**20 // 4)
    return _bytes_per_second(src.sum, src.numel() * 4, reps)


def _decode_matmul(assistant) -> str:
    """Which matrix products a one-token decode step runs: "native" (`alm.kernels.gemv`, with how it was built)
    or PyTorch's."""
    gemv = getattr(assistant._fast, "gemv", None)
    return f"native ({gemv.how})" if gemv is not None else "torch"


def llm_bytes_per_token(llm) -> int:
    """Bytes of weights one decode step reads: every parameter once (a tied embedding counts once, as the LM
    head); an untied input embedding is not counted (a step reads one row of it)."""
    seen, total = set(), 0
    embed = llm.get_input_embeddings().weight
    tied = embed.data_ptr() == llm.get_output_embeddings().weight.data_ptr()
    for p in llm.parameters():
        if p.data_ptr() in seen or (p is embed and not tied):
            continue
        seen.add(p.data_ptr())
        total += p.numel() * p.element_size()
    return total


class _Times:
    """A streamer stand-in that notes when each new token arrives (the first `put` is the prompt)."""

    def __init__(self):
        self.times: list[float] = []
        self._prompt = True

    def put(self, value) -> None:
        if self._prompt:
            self._prompt = False
        else:
            self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def token_times(assistant, inputs: dict, new_tokens: int) -> tuple[float, list[float]]:
    """(start, arrival time of each new token) for a greedy generation of exactly `new_tokens` tokens."""
    streamer = _Times()
    kwargs = {"max_new_tokens": new_tokens, "do_sample": False, "temperature": None, "top_p": None,
              "top_k": None, "pad_token_id": assistant.processor.tokenizer.pad_token_id}
    saved = assistant.eos_ids
    assistant.eos_ids = [-1]  # no end of turn: exactly `new_tokens` tokens
    try:
        if assistant._fast is None:
            kwargs.update(min_new_tokens=new_tokens, eos_token_id=None)
        start = time.perf_counter()
        assistant._generate(inputs, kwargs, None, streamer=streamer)  # no loop guard: every token is timed
    finally:
        assistant.eos_ids = saved
    return start, streamer.times


def forget(assistant) -> None:
    """Empty what the assistant keeps per clip (transcripts, encoder frames, tagger probabilities), so a part is
    timed from scratch."""
    if hasattr(assistant.transcriber, "clear"):
        assistant.transcriber.clear()
    if assistant._frames is not None:
        assistant._frames.clear()
    assistant._probs.clear()


@torch.inference_mode()
def measure_once(assistant, path: Path | None, wave: np.ndarray, decode_tokens: int) -> dict:
    from alm.audio import load_audio
    from alm.conversation import Conversation

    out = {}
    if path is not None:
        t = time.perf_counter()
        load_audio(path)
        out["audio_load_s"] = time.perf_counter() - t
    model, processor = assistant.model, assistant.processor
    t0 = time.perf_counter()
    feats = processor.audio_features([wave])
    out["mel_s"] = time.perf_counter() - t0
    device = model.device
    mel, lengths = feats["audio_mel"].to(device), feats["audio_mel_lengths"].to(device)
    t = time.perf_counter()
    frames, frame_lengths = model.audio_encoder(mel, lengths)
    out["encoder_s"] = time.perf_counter() - t
    t = time.perf_counter()
    model.align(frames, frame_lengths)
    out["aligner_s"] = time.perf_counter() - t
    forget(assistant)
    transcripts = None
    if assistant.transcriber is not None:
        t = time.perf_counter()
        transcripts = [assistant.transcriber.transcribe(wave)]
        out["transcript_s"] = time.perf_counter() - t
    messages = [{"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": QUESTION}]}]
    conv = Conversation(messages, [wave], transcripts)
    if assistant.reads_tags:
        t = time.perf_counter()
        conv = assistant.with_notes(conv)
        out["tags_s"] = time.perf_counter() - t
    # generation encodes the clip unless the tags' pass left its frames in the cache (the default path)
    encodes = assistant._frames is None or not assistant.reads_tags
    inputs = assistant._inputs([conv])
    start, times = token_times(assistant, inputs, decode_tokens)
    in_generation = out["aligner_s"] + (out["encoder_s"] if encodes else 0.0)  # what embedding repeats there
    out["prefill_s"] = max(0.0, times[0] - start - in_generation)
    embed_s = (out["mel_s"] + out["encoder_s"] if encodes else 0.0) + out["aligner_s"]
    out["ttft_s"] = embed_s + out.get("transcript_s", 0.0) + out.get("tags_s", 0.0) + out["prefill_s"]
    out["decode_tok_s"] = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else float("nan")
    out["prompt_tokens"] = int(inputs["attention_mask"].sum())
    forget(assistant)
    t = time.perf_counter()
    answer = assistant.answer(messages, [load_audio(path) if path is not None else wave])
    out["answer_s"] = time.perf_counter() - t  # from the file (audio load included) to the whole answer
    out["answer_tokens"] = answer.completion_tokens
    out["answer_text"] = answer.text
    return out


def run(model: str = "alm-tiny", clip: str | None = None, reps: int = 5, decode_tokens: int = 32,
        configs: tuple[str, ...] = ("reference", "fast"), device: str = "auto", out: Path | None = None) -> dict:
    from alm.audio import load_audio
    from alm.devices import resolve_device
    from alm.inference import Assistant

    device = resolve_device(device)
    path = None if clip == "chord" else Path(clip or DEFAULT_CLIP)
    wave = chord() if path is None else load_audio(path)
    report: dict = {"model": model, "clip": "chord (synthetic, 10 s)" if path is None else str(path),
                    "clip_seconds": round(len(wave) / 16_000, 2), "device": device, "threads": torch.get_num_threads(),
                    "cpu_count": os.cpu_count(), "load_avg_before": os.getloadavg(), "torch": torch.__version__}
    if device == "cpu":
        report["copy_bytes_per_s"] = copy_bandwidth()
        report["read_bytes_per_s"] = read_bandwidth()
    assistants = {}
    for name in configs:
        t = time.perf_counter()
        assistants[name] = Assistant.load(model, device=device, fast=name != "reference")
        a = assistants[name]
        report.setdefault("configs", {})[name] = {
            "load_s": round(time.perf_counter() - t, 2), "dtype": str(a.model.dtype).replace("torch.", ""),
            "decoder": a.decoder, "transcriber": getattr(a.transcriber, "backend", None),
            "transcriber_encoder": getattr(a.transcriber, "encoder", None),
            "decode_matmul": _decode_matmul(a),
            "llm_bytes_per_token": llm_bytes_per_token(a.model.language_model)}
    for name, a in assistants.items():  # warm-up: first calls allocate, load kernels, fill caches
        measure_once(a, path, wave, 4)
    samples: dict[str, list[dict]] = {name: [] for name in assistants}
    for _ in range(reps):
        for name, a in assistants.items():
            samples[name].append(measure_once(a, path, wave, decode_tokens))
    for name, rows in samples.items():
        entry = report["configs"][name]
        for key in PARTS:
            values = [r[key] for r in rows if key in r]
            if values:
                entry[key] = round(statistics.median(values), 4)
        entry["answer_best_s"] = round(min(r["answer_s"] for r in rows), 4)
        entry["answer_text"] = rows[-1]["answer_text"]
        entry["prompt_tokens"] = rows[-1]["prompt_tokens"]
        if "copy_bytes_per_s" in report:
            bound = report["copy_bytes_per_s"] / entry["llm_bytes_per_token"]
            entry["decode_bound_tok_s"] = round(bound, 1)
            entry["share_of_bound"] = round(entry["decode_tok_s"] / bound, 3)
            read_bound = report["read_bytes_per_s"] / entry["llm_bytes_per_token"]
            entry["decode_read_bound_tok_s"] = round(read_bound, 1)
            entry["share_of_read_bound"] = round(entry["decode_tok_s"] / read_bound, 3)
    if len(samples) == 2:
        ref, fast = (report["configs"][n] for n in configs)
        report["speedup"] = {k: round(ref[k] / fast[k], 2) for k in PARTS if k in ref and k in fast
                             and k not in ("decode_tok_s", "answer_tokens") and fast[k] > 0}
        report["speedup"]["decode_tok_s"] = round(fast["decode_tok_s"] / ref["decode_tok_s"], 2)
    report["load_avg_after"] = os.getloadavg()
    if out is not None:
        atomic_write_json(out, report)
    print_table(report)
    return report


def print_table(report: dict) -> None:
    names = list(report["configs"])
    print(f"# {report['model']} on {report['device']} ({report['threads']} threads), {report['clip']} "
          f"({report['clip_seconds']} s); load average {report['load_avg_before'][0]:.1f} -> "
          f"{report['load_avg_after'][0]:.1f}; medians")
    print(f"{'':<22}" + "".join(f"{n:>14}" for n in names) + ("   ratio" if len(names) == 2 else ""))
    rows = ["dtype", "decoder", "decode_matmul", "transcriber", *PARTS, "answer_best_s", "decode_bound_tok_s",
            "share_of_bound", "decode_read_bound_tok_s", "share_of_read_bound"]
    for key in rows:
        values = [report["configs"][n].get(key) for n in names]
        if all(v is None for v in values):
            continue
        cells = "".join(f"{v:>14.3f}" if isinstance(v, float) else f"{str(v).split(' (')[0]:>14}" for v in values)
        ratio = report.get("speedup", {}).get(key)
        print(f"{key:<22}{cells}" + (f"   {ratio:.2f}x" if ratio else ""))
    if "copy_bytes_per_s" in report:
        print(f"memory copy: {report['copy_bytes_per_s'] / 1e9:.1f} GB/s; decode bound = that / LLM bytes per token; "
              f"memory read: {report['read_bytes_per_s'] / 1e9:.1f} GB/s, the read bound likewise")
    for n in names:
        print(f"{n}: {report['configs'][n].get('answer_text')!r}")
