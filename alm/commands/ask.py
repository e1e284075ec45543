"""`alm ask AUDIO [AUDIO...] "question"`: answer a question about sound files, streaming to the terminal."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from alm.checkpoints import DEFAULT_MODEL
from alm.conversation import PLACEHOLDER
from alm.errors import AlmError

UNTRAINED_NOTE = (
    "note: {model} has an untrained aligner, so its answers do not yet reflect the audio "
    "(train one with the training recipes, or pass --model)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Answer a question about one or more audio files (wav, flac, ogg, mp3; any rate; resampled to 16 kHz). "
        f"The default model, {DEFAULT_MODEL}, is Whisper-base + an MLP aligner + SmolLM2-135M-Instruct with LoRA, "
        "trained on CPU on the offline corpus (23,155 clips); beside the audio it reads Whisper's transcript of each "
        "clip (none where Whisper hears no speech) and a sound tagger's top labels. It names about a third of "
        "sounds from sources it never trained on, answers \"is there X?\" and repeats what is said, but it is a "
        "tiny model, not a general-purpose listener. "
        f"Put {PLACEHOLDER} in the question to place clips inside the text; otherwise they come first."
    )
    parser.add_argument("inputs", nargs="+", metavar="AUDIO... QUESTION",
                        help="one or more audio files, then the question (quote it)")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"packaged name, checkpoint folder or Hugging Face id (default: {DEFAULT_MODEL})")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    parser.add_argument("--top-p", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--transcribe", action=argparse.BooleanOptionalAction, default=None,
                        help="give the LLM Whisper's transcript of each clip (LTU-AS) or not (default: as the model "
                             "was trained; alm-tiny: yes)")
    parser.add_argument("--show-transcript", action="store_true", help="print the transcripts (implies --transcribe)")
    parser.add_argument("--show-notes", action="store_true",
                        help="print what the LLM reads after each clip's audio tokens: Whisper's transcript and the "
                             "sound tagger's top labels (with the probability of a sound the question names)")
    parser.add_argument("--device", default="auto", help="auto (cuda, then mps, then cpu; default), cpu, cuda, mps ...")
    parser.add_argument("--no-stream", action="store_true", help="print the answer only when complete")
    parser.add_argument("--timing", action="store_true", help="print load and answer times to stderr")


def question_messages(question: str, num_clips: int) -> list[dict]:
    """The one user turn `alm ask` sends: the clips where `<audio>` marks them, else before the question."""
    from alm.conversation import parts_from_placeholders

    return [{"role": "user", "content": parts_from_placeholders(question, num_clips)}]


def _model_max_audio_seconds(model: str) -> float | None:
    """The checkpoint's longest clip, read from its config.json without importing torch when it says."""
    import json

    from alm.checkpoints import resolve_checkpoint

    path = resolve_checkpoint(model) / "config.json"
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("max_audio_seconds")
    except (OSError, ValueError, AttributeError):
        return None  # loading the model reports what is wrong with its config
    if isinstance(value, (int, float)) and value > 0:
        return float(value)
    from alm.model.configuration import AlmConfig  # not in the file: the default applies

    return AlmConfig().max_audio_seconds


def run(args: argparse.Namespace) -> int:
    # Everything about the input is checked before torch is imported (seconds), so a bad call fails at once.
    if len(args.inputs) < 2:
        raise AlmError("give at least one audio file and a question, e.g. alm ask dog.wav \"What do you hear?\"")
    *paths, question = args.inputs
    if not question.strip():
        raise AlmError("the question is empty")
    from alm.limits import Limits, check_sampling
    from alm.paths import check_input_file

    check_sampling(args.temperature, args.top_p, args.seed)
    if args.max_new_tokens < 1:
        raise AlmError(f"--max-new-tokens must be >= 1, got {args.max_new_tokens}")
    for path in paths:
        check_input_file(path, "audio file")
    messages = question_messages(question, len(paths))
    limits = Limits()
    limits.check_messages(messages)
    limits.check_clip_count(len(paths))
    budget = limits.audio_budget(_model_max_audio_seconds(args.model))
    clips = [budget.read(Path(p), p) for p in paths]  # each clip's length checked from its header first

    from alm.conversation import Conversation
    from alm.inference import Assistant, SamplingParams
    from alm.limits import model_context
    from alm.logs import silence_transformers
    from alm.processor import conversation_notes

    silence_transformers()

    start = time.perf_counter()
    assistant = Assistant.load(args.model, device=args.device,
                               speech_transcripts=True if args.show_transcript else args.transcribe)
    loaded = time.perf_counter()
    if not assistant.trained:
        print(UNTRAINED_NOTE.format(model=args.model), file=sys.stderr)
    params = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                            seed=args.seed)
    transcripts = assistant.transcribe(clips) if assistant.transcriber else None
    prompt = assistant.processor.tokenize(Conversation(messages, clips, transcripts), train=False)[0]
    limits.check_prompt(len(prompt), params.max_new_tokens, model_context(assistant.model.config))
    if args.show_transcript:
        for path, text in zip(paths, transcripts):
            print(f"[transcript of {path}] {text}", file=sys.stderr)
    if args.show_notes:
        noted = assistant.with_notes(Conversation(messages, clips, transcripts))
        for path, notes in zip(paths, conversation_notes(noted)):
            print(f"[notes on {path}] {notes.strip() or '(none: this model reads only the audio tokens)'}",
                  file=sys.stderr)
    if args.no_stream:
        print(assistant.answer(messages, clips, params, transcripts).text)
    else:
        for piece in assistant.answer_stream(messages, clips, params, transcripts):
            print(piece, end="", flush=True)
        print()
    if args.timing:
        print(f"[timing] load {loaded - start:.2f} s, answer {time.perf_counter() - loaded:.2f} s", file=sys.stderr)
    return 0

