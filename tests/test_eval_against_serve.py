"""`alm eval --endpoint` against the project's own API server (live, 127.0.0.1) gives the local model's answers,
two-clip questions included (the API and the local runner reach the chat template's one layout)."""

import json
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from alm.cli import main  # noqa: E402
from alm.inference import Assistant  # noqa: E402
from conftest import tiny_whisper_config  # noqa: E402
from serve.api import create_app  # noqa: E402
from serve.engine import TransformersEngine  # noqa: E402
from serve.server import ServerThread  # noqa: E402
from serve.settings import ServerSettings  # noqa: E402
from serve.testing import save_tiny_checkpoint  # noqa: E402
from test_eval_runs import make_corpus  # noqa: E402


def test_eval_endpoint_on_alm_serve_matches_local(tiny_bases, tmp_path: Path):
    audio_base, text_base = tiny_bases
    ckpt = save_tiny_checkpoint(tmp_path / "ckpt", audio_base, text_base, tiny_whisper_config().to_dict())
    corpus = make_corpus(tmp_path / "corpus")
    common = ["--suite", "offline", "--corpus", str(corpus), "--limit", "8", "--max-new-tokens", "6", "--no-meteor",
              "--no-plots", "--no-probe", "--no-asr"]  # the floors do not ask the model: not part of the parity
    assert main(["eval", "--model", str(ckpt), "--out", str(tmp_path / "local"), *common]) == 0

    settings = ServerSettings(model_name="tiny", api_key="k3y")
    engine = TransformersEngine(Assistant.load(str(ckpt)), batch_window_ms=20, max_batch=4, max_in_flight=64)
    with ServerThread(create_app(engine, settings)) as url:
        assert main(["eval", "--endpoint", url + "/v1", "--api-key", "k3y", "--model", "tiny", "--concurrency", "4",
                     "--out", str(tmp_path / "remote"), *common]) == 0

    local = json.loads((tmp_path / "local" / "results.json").read_text())["benchmarks"]
    remote = json.loads((tmp_path / "remote" / "results.json").read_text())["benchmarks"]
    assert set(local) == set(remote)
    two_clips = [item for item in local["offline-aqa"]["items"] if len(item["audio"]) == 2]
    assert two_clips, "the parity check must include a two-clip question"
    for name in local:
        for a, b in zip(local[name]["items"], remote[name]["items"]):
            assert a["model"]["answer"] == b["model"]["answer"], (name, a["id"])
        assert local[name]["scores"]["model"] == remote[name]["scores"]["model"]
