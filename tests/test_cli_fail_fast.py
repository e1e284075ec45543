"""Commands fail fast and plainly on bad input: `alm ask` before importing torch, `alm train` before loading a
model, `alm data build` before building; devices, FIFOs and folders are named as such; never "internal error"."""

import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from alm.cli import main
from alm.errors import AlmError
from alm.paths import check_input_file, check_output_folder

ALM = Path(sys.executable).parent / "alm"  # the console script a user runs
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def no_torch(tmp_path_factory) -> dict:
    """An environment in which importing torch fails loudly: what `alm ask` checks must not need it."""
    fake = tmp_path_factory.mktemp("no-torch")
    (fake / "torch.py").write_text("raise ImportError('TORCH WAS IMPORTED')\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), str(REPO)]), "HF_HUB_OFFLINE": "1"}


def _sparse_wav(path: Path, size: int = 2 * 2**30) -> Path:
    sf.write(path, np.zeros(16, np.int16), 16_000, subtype="PCM_16")
    os.truncate(path, size)
    with open(path, "r+b") as fh:
        fh.seek(4)
        fh.write(struct.pack("<I", size - 8))
        fh.seek(40)
        fh.write(struct.pack("<I", size - 44))
    return path


def _inputs(tmp: Path) -> dict:
    os.mkfifo(tmp / "pipe.wav")
    (tmp / "folder.wav").mkdir()
    (tmp / "empty.wav").write_bytes(b"")
    (tmp / "text.wav").write_text("not audio\n" * 50)
    _sparse_wav(tmp / "huge.wav")
    return {"missing": (tmp / "missing.wav", "no such file"), "device": (Path("/dev/zero"), "is a character device"),
            "fifo": (tmp / "pipe.wav", "is a FIFO"), "folder": (tmp / "folder.wav", "is a folder"),
            "empty": (tmp / "empty.wav", "the file is empty"), "text": (tmp / "text.wav", "not a readable audio file"),
            "huge": (tmp / "huge.wav", "the maximum is 600 s")}


@pytest.mark.parametrize("case", ["missing", "device", "fifo", "folder", "empty", "text", "huge"])
def test_ask_rejects_bad_audio_before_importing_torch(tmp_path, no_torch, case):
    path, message = _inputs(tmp_path)[case]
    start = time.perf_counter()
    result = subprocess.run([str(ALM), "ask", str(path), "What is it?"], capture_output=True, text=True,
                            env=no_torch, timeout=60)
    elapsed = time.perf_counter() - start
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert lines[0].startswith("alm ask: error:") and message in lines[0], lines[0]
    assert elapsed < 5, elapsed  # ~0.5 s here; loose for a busy shared machine


@pytest.mark.parametrize("args, message", [
    (["--temperature", "1e-300"], "temperature must be 0"),
    (["--seed", str(2**64)], "seed must fit in 64 bits"),
    (["--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
])
def test_ask_rejects_bad_settings_before_importing_torch(tmp_path, no_torch, args, message):
    clip = tmp_path / "a.wav"
    sf.write(clip, np.zeros(16_000, np.float32), 16_000)
    result = subprocess.run([str(ALM), "ask", str(clip), "What is it?", *args], capture_output=True, text=True,
                            env=no_torch, timeout=60)
    assert result.returncode == 1 and message in result.stderr and "TORCH" not in result.stderr, result.stderr


def test_data_build_checks_its_output_folder_first(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    start = time.perf_counter()
    result = subprocess.run([str(ALM), "data", "build", "--out", str(blocker / "corpus"), "--no-install", "--quiet"],
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)})
    assert result.returncode == 1, result.stderr
    assert "internal error" not in result.stderr and "cannot write there" in result.stderr, result.stderr
    assert str(blocker / "corpus") in result.stderr
    assert time.perf_counter() - start < 30


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_output_folder_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(AlmError, match="cannot write there"):
        check_output_folder(locked / "corpus")


def test_output_and_input_path_checks(tmp_path):
    assert check_output_folder(tmp_path / "new" / "deep").is_dir()
    (tmp_path / "file").write_text("x")
    with pytest.raises(AlmError, match="exists and is not a folder"):
        check_output_folder(tmp_path / "file")
    with pytest.raises(AlmError, match="cannot be read"):
        check_input_file(tmp_path / ("n" * 300))


def test_train_checks_its_data_before_loading_a_model(tmp_path, monkeypatch, capsys):
    import training.engine

    def no_model(*args, **kwargs):
        raise AssertionError("a model was loaded before the data was checked")

    monkeypatch.setattr(training.engine, "train_stage", no_model)
    monkeypatch.chdir(tmp_path)
    assert main(["train", "alm-tiny/stage1", "--set", f"data.root={tmp_path / 'nowhere'}"]) == 1
    err = capsys.readouterr().err
    assert "no corpus here" in err and "internal error" not in err, err

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "manifest.json").write_text("{}")
    (corpus / "train.jsonl").write_text("")
    assert main(["train", "alm-tiny/stage1", "--set", f"data.root={corpus}"]) == 1
    err = capsys.readouterr().err
    assert "has no validation split (validation.jsonl)" in err and "internal error" not in err, err


def test_a_missing_extra_names_the_setup_command(monkeypatch, capsys):
    """A package of an extra that was not installed (jiwer without `./setup.sh eval`) is one line naming the extra,
    not an internal error."""
    from alm import cli
    from alm.extras import extra_providing

    assert (extra_providing("jiwer"), extra_providing("gradio_client.client"), extra_providing("bitsandbytes")) == (
        "eval", "serve", "qlora")
    assert extra_providing("no_such_package") is None

    def needs_jiwer(args):
        raise ModuleNotFoundError("No module named 'jiwer'", name="jiwer")

    import alm.commands.weights

    monkeypatch.setattr(alm.commands.weights, "run", needs_jiwer)
    monkeypatch.delenv("ALM_DEBUG", raising=False)
    assert cli.main(["weights", "list"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "alm weights: error: needs the Python package 'jiwer' from the eval extra: run ./setup.sh eval"
