"""A headless Debian Chromium opens the chat page, uploads a wav, asks, and sees the answer."""

import shutil
import time

import pytest

webdriver = pytest.importorskip("selenium.webdriver", reason="needs the serve extras: pip install -e .[serve]")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

from alm.conversation import clips_then_text  # noqa: E402
from alm.inference import Assistant, SamplingParams  # noqa: E402
from conftest import tiny_whisper_config  # noqa: E402
from serve.cli import build_app  # noqa: E402
from serve.server import ServerThread  # noqa: E402
from serve.settings import ServerSettings  # noqa: E402
from serve.testing import save_tiny_checkpoint, tone, wav_bytes  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian chromium and chromium-driver")


@pytest.fixture(scope="module")
def assistant(tiny_bases, tmp_path_factory):
    audio_base, text_base = tiny_bases
    path = save_tiny_checkpoint(tmp_path_factory.mktemp("browser") / "ckpt", audio_base, text_base,
                                tiny_whisper_config().to_dict())
    return Assistant.load(str(path))


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                 f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def wait_for(predicate, timeout=120, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_upload_a_wav_and_see_the_answer(assistant, browser, tmp_path):
    clip = tmp_path / "beep.wav"
    clip.write_bytes(wav_bytes(tone(440, 1.5)))
    expected = assistant.answer([{"role": "user", "content": clips_then_text(1, "What do you hear?")}], [tone(440, 1.5)],
                                SamplingParams(max_new_tokens=256)).text
    with ServerThread(build_app(assistant, ServerSettings(model_name="tiny"))) as url:
        browser.get(url + "/chat/")
        box = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#message textarea"), 60, "the message box")[0]
        upload = browser.find_element(By.CSS_SELECTOR, "#message input[type=file]")
        upload.send_keys(str(clip))
        wait_for(lambda: "beep" in browser.find_element(By.ID, "message").text
                 or browser.find_elements(By.CSS_SELECTOR, "#message audio, #message .thumbnail-item"),
                 60, "the upload to show")
        box.send_keys("What do you hear?")
        box.send_keys(Keys.ENTER)

        def answer_text():
            bots = browser.find_elements(By.CSS_SELECTOR, "#chatbot [data-testid='bot']")
            return bots[-1].text.strip() if bots else ""

        wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#chatbot [data-testid='user']"), 60,
                 "the user's turn")
        got = wait_for(answer_text, 120, "an answer")
        time.sleep(1)  # let streaming finish
        got = answer_text()
        assert got and not got.startswith("⚠️")
        printable = "".join(ch for ch in expected if ch.isalnum())[:4]
        assert printable in "".join(ch for ch in got if ch.isalnum()), (got, expected)
