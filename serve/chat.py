"""The Gradio chat: talk about sounds, several clips and turns, streaming answers.

`build_chat(backend)` returns a `gr.Blocks` that `alm chat` launches on its own and `alm serve`
mounts beside the API. Audio comes from upload or the microphone (several clips per turn);
each turn's clips come before its text, as audio content parts. The conversation lives
in a `gr.State` (the chatbot is only its picture), so regenerate and clear are exact, and
errors are shown as chat messages, never as stack traces.
"""

from __future__ import annotations

import logging
from collections import OrderedDict

import gradio as gr
import numpy as np

from alm.audio.io import load_audio
from alm.errors import AlmError
from alm.inference import SamplingParams
from alm.conversation import clips_then_text

logger = logging.getLogger("alm.chat")

UNTRAINED = ("**Note:** this model's aligner is untrained, so its answers do not reflect the audio yet. "
             "Train one with the training recipes, or start the chat with another `--model`.")
_waves: OrderedDict[str, np.ndarray] = OrderedDict()  # decoded clips by file path (a chat re-sends old clips)


def _load(path: str) -> np.ndarray:
    if path not in _waves:
        _waves[path] = load_audio(path)
        while len(_waves) > 64:
            _waves.popitem(last=False)
    return _waves[path]


def _path(file) -> str:
    return file if isinstance(file, str) else (file.get("path") if isinstance(file, dict) else getattr(file, "path"))


def user_content(turn: dict) -> list[dict]:
    return clips_then_text(len(turn["audios"]), turn["text"])


def conversation(turns: list[dict]) -> tuple[list[dict], list[np.ndarray]]:
    """Turns -> alm messages and clips; turns that failed are left out."""
    messages, audios = [], []
    for turn in turns:
        if turn.get("error"):
            continue
        messages.append({"role": "user", "content": user_content(turn)})
        audios += [_load(p) for p in turn["audios"]]
        if turn.get("answer") is not None and turn is not turns[-1]:
            messages.append({"role": "assistant", "content": turn["answer"]})
    return messages, audios


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


def build_chat(backend, title: str = "alm chat") -> gr.Blocks:
    def answer(turns: list[dict], params: SamplingParams, show_transcripts: bool):
        """Answer the last turn, yielding the turns as the answer grows."""
        turn = turns[-1]
        turn.update(answer="", error=None)
        try:
            messages, audios = conversation(turns)
            backend.check(messages, audios)
            if show_transcripts and backend.can_transcribe and turn["audios"]:
                turn["transcripts"] = backend.transcribe([_load(p) for p in turn["audios"]])
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
        return SamplingParams(max_new_tokens=int(max_tokens), temperature=float(temperature), top_p=float(top_p),
                              seed=None if seed in (None, "") else int(seed))

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
        for turns in answer(turns, params_of(temperature, top_p, max_tokens, seed), show_transcripts):
            yield render(turns, show_transcripts), turns, None

    def regenerate(turns, temperature, top_p, max_tokens, seed, show_transcripts):
        turns = list(turns or [])
        if not turns:
            yield render(turns, show_transcripts), turns
            return
        for turns in answer(turns, params_of(temperature, top_p, max_tokens, seed), show_transcripts):
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
            max_tokens = gr.Slider(1, 1024, value=256, step=1, label="Max new tokens")
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
