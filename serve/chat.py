"""The Gradio chat: talk about sounds, several clips and turns, streaming answers.

`build_chat(backend)` returns a `gr.Blocks` that `alm chat` launches on its own and `alm serve`
mounts beside the API. Audio comes from upload or the microphone (several clips per turn);
each turn's clips come before its text, as audio content parts. The conversation lives
in a `gr.State` (the chatbot is only its picture), so regenerate and clear are exact, and
errors are shown as chat messages, never as stack traces. Each turn is held to the same limits as an
API request (`alm.limits`: text, messages, clips, audio seconds from each file's header, prompt
tokens), and clips are read by `alm.audio.io.read_audio`, as the API and `alm ask` read them.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path

import gradio as gr
import numpy as np

from alm.errors import AlmError
from alm.inference import SamplingParams
from alm.conversation import clips_then_text
from alm.limits import AudioBudget, Limits, check_sampling

logger = logging.getLogger("alm.chat")

UNTRAINED = ("**Note:** this model's aligner is untrained, so its answers do not reflect the audio yet. "
             "Train one with the training recipes, or start the chat with another `--model`.")
MAX_NEW_TOKENS = 1024  # the slider's top
_waves: OrderedDict[str, np.ndarray] = OrderedDict()  # decoded clips by file path (a chat re-sends old clips)


def _load(path: str, budget: AudioBudget) -> np.ndarray:
    """A clip, decoded once per file (within the budget: its header is checked before decoding)."""
    if path in _waves:
        return budget.add(_waves[path], path)
    wave = budget.read(Path(path), path)
    _waves[path] = wave
    while len(_waves) > 64:
        _waves.popitem(last=False)
    return wave


def _path(file) -> str:
    return file if isinstance(file, str) else (file.get("path") if isinstance(file, dict) else getattr(file, "path"))


def user_content(turn: dict) -> list[dict]:
    return clips_then_text(len(turn["audios"]), turn["text"])


def conversation(turns: list[dict], limits: Limits | None = None,
                 max_clip_seconds: float | None = None) -> tuple[list[dict], list[np.ndarray]]:
    """Turns -> alm messages and clips, within `limits` (text first, then each clip from its header); turns that
    failed are left out. `max_clip_seconds`: the model's longest clip."""
    limits = limits or Limits()
    messages, paths = [], []
    for turn in turns:
        if turn.get("error"):
            continue
        messages.append({"role": "user", "content": user_content(turn)})
        paths += turn["audios"]
        if turn.get("answer") is not None and turn is not turns[-1]:
            messages.append({"role": "assistant", "content": turn["answer"]})
    limits.check_messages(messages)
    limits.check_clip_count(len(paths))
    budget = limits.audio_budget(max_clip_seconds)
    return messages, [_load(p, budget) for p in paths]


def render(turns: list[dict], show_transcripts: bool) -> list[dict]:
    """Turns -> the chatbot's messages."""
    out = []
    for turn in turns:
        out += [{"role": "user", "content": {"path": p}} for p in turn["audios"]]
        if turn["text"]:
            out.append({"role": "user", "content": turn["text"]})
        if show_transcripts:
            for k, text in enumerate(turn.get("transcripts") or [], 1):
                out.append({"role": "assistant", "content": text or "(no speech)",
                            "metadata": {"title": f"Transcript of clip {k}"}})
        if turn.get("error"):
            out.append({"role": "assistant", "content": f"⚠️ {turn['error']}"})
        elif turn.get("answer") is not None:
            out.append({"role": "assistant", "content": turn["answer"] or "…"})
    return out


def build_chat(backend, title: str = "alm chat", limits: Limits | None = None) -> gr.Blocks:
    """`limits`: what one turn may hold (the server's, when mounted beside the API)."""
    limits = limits or Limits()
    max_clip_seconds = getattr(backend, "max_audio_seconds", None)

    def answer(turns: list[dict], settings: tuple, show_transcripts: bool):
        """Answer the last turn, yielding the turns as the answer grows."""
        turn = turns[-1]
        turn.update(answer="", error=None)
        try:
            params = params_of(*settings)
            messages, audios = conversation(turns, limits, max_clip_seconds)
            backend.check(messages, audios, params, limits)
            if show_transcripts and backend.can_transcribe and turn["audios"]:
                turn["transcripts"] = backend.transcribe(audios[len(audios) - len(turn["audios"]):])
            yield turns
            for piece in backend.stream(messages, audios, params):
                turn["answer"] += piece
                yield turns
            turn["answer"] = turn["answer"].strip()
        except AlmError as exc:
            turn.update(answer=None, error=str(exc))
        except Exception as exc:  # noqa: BLE001 - the user sees one line, the log has the trace
            logger.exception("chat turn failed")
            turn.update(answer=None, error=f"internal error ({type(exc).__name__}); see the server log")
        yield turns

    def params_of(temperature, top_p, max_tokens, seed) -> SamplingParams:
        """The settings (sliders, or any value a gradio_client sends) as checked sampling parameters."""
        try:
            params = SamplingParams(max_new_tokens=int(max_tokens), temperature=float(temperature),
                                    top_p=float(top_p), seed=None if seed in (None, "") else int(seed))
        except (TypeError, ValueError, OverflowError):
            raise AlmError("the settings must be numbers") from None
        check_sampling(params.temperature, params.top_p, params.seed)
        if not 1 <= params.max_new_tokens <= MAX_NEW_TOKENS:
            raise AlmError(f"max new tokens must be between 1 and {MAX_NEW_TOKENS}")
        return params

    def submit(message, turns, temperature, top_p, max_tokens, seed, show_transcripts):
        message = message or {}
        text = (message.get("text") or "").strip()
        files = [_path(f) for f in message.get("files") or []]
        turns = list(turns or [])
        if not text and not files:
            gr.Warning("Type a question or add a sound first.")
            yield render(turns, show_transcripts), turns, gr.update()
            return
        turns.append({"text": text, "audios": files, "answer": None, "error": None, "transcripts": None})
        for turns in answer(turns, (temperature, top_p, max_tokens, seed), show_transcripts):
            yield render(turns, show_transcripts), turns, None

    def regenerate(turns, temperature, top_p, max_tokens, seed, show_transcripts):
        turns = list(turns or [])
        if not turns:
            yield render(turns, show_transcripts), turns
            return
        for turns in answer(turns, (temperature, top_p, max_tokens, seed), show_transcripts):
            yield render(turns, show_transcripts), turns

    def clear():
        return [], [], None

    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(f"## {title}\nDrop or record one or more sounds, ask about them, and keep talking. "
                    f"Model: `{backend.model_name}`.")
        if not backend.trained:
            gr.Markdown(UNTRAINED, elem_id="untrained-note")
        turns = gr.State([])
        chatbot = gr.Chatbot(label="Conversation", height=480, elem_id="chatbot", buttons=["copy"])
        box = gr.MultimodalTextbox(sources=["upload", "microphone"], file_types=["audio"], file_count="multiple",
                                   placeholder="Ask about the sounds (add audio with the clip or the microphone)",
                                   show_label=False, elem_id="message")
        with gr.Row():
            regen = gr.Button("Regenerate", elem_id="regenerate")
            clear_btn = gr.Button("Clear", elem_id="clear")
        with gr.Accordion("Settings", open=False):
            temperature = gr.Slider(0, 2, value=0.0, step=0.05, label="Temperature (0 = greedy)")
            top_p = gr.Slider(0.05, 1, value=1.0, step=0.05, label="Top-p")
            max_tokens = gr.Slider(1, MAX_NEW_TOKENS, value=256, step=1, label="Max new tokens")
            seed = gr.Number(value=None, precision=0, label="Seed (empty = random)")
            show_transcripts = gr.Checkbox(value=False, label="Show speech transcripts",
                                           interactive=backend.can_transcribe,
                                           info=None if backend.can_transcribe else
                                           "this model does not transcribe; start with --transcribe for Whisper transcripts")
        settings = [temperature, top_p, max_tokens, seed, show_transcripts]
        box.submit(submit, [box, turns, *settings], [chatbot, turns, box], api_name="chat")
        regen.click(regenerate, [turns, *settings], [chatbot, turns], api_name="regenerate")
        clear_btn.click(clear, None, [chatbot, turns, box], api_name="clear")
        show_transcripts.change(lambda t, s: render(t or [], s), [turns, show_transcripts], chatbot,
                                api_name=False)
    demo.queue(default_concurrency_limit=1)
    return demo
