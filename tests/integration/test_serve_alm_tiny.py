"""`alm serve` on the packaged alm-tiny (real offline bases), started as a user would, queried with the SDK."""

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

from serve.server import free_port
from serve.testing import input_audio, text, tone

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def alm_serve():
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "alm", "serve", "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600  # first run may convert the offline bases
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"alm serve exited: {proc.stdout.read()[-2000:]}")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("alm serve did not come up")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def test_alm_tiny_answers_over_the_api_and_serves_the_chat(alm_serve):
    client = openai.OpenAI(base_url=alm_serve + "/v1", api_key="x", max_retries=0, timeout=300)
    assert [m.id for m in client.models.list().data] == ["alm-tiny"]
    messages = [{"role": "user", "content": [input_audio(tone(440, 3.0)), text("What do you hear?")]}]
    resp = client.chat.completions.create(model="alm-tiny", messages=messages, max_tokens=16)
    assert resp.choices[0].message.content.strip()
    assert resp.usage.prompt_tokens > 3 * 6  # 3 s of audio -> ~19 audio tokens plus the prompt
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model="alm-tiny", messages=messages, max_tokens=16, stream=True) if c.choices)
    assert streamed.strip() == resp.choices[0].message.content
    page = httpx.get(alm_serve + "/chat/", timeout=30)
    assert page.status_code == 200 and "<html" in page.text.lower()
