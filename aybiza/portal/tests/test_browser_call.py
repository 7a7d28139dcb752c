"""The browser test call in real headless Chromium against a real daphne process: the fake
microphone asks the demo agent a question from its knowledge (speech synthesised by the offline
voice, never seen by the agent as text), the answer appears in the live transcript with its
latency, and the call is stored as a browser call. Any console error fails the test."""

from __future__ import annotations

import asyncio
import os
import wave
from pathlib import Path

import pytest

from agents.demo import demo_seed
from aybiza.portal.tests.browser import (
    DESKTOP,
    browser_missing,
    chromium,
    click_and_wait,
    console_errors,
    fake_microphone,
    full_page_screenshot,
)
from calls.models import Call, Direction
from calls.realtime.audio import resample, ulaw_to_pcm16
from calls.realtime.providers.registry import build_provider
from calls.realtime.providers.tts.base import TTSOptions
from tests.daphne_server import daphne_server

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(browser_missing()), reason=browser_missing() or "")]
QUESTION = "What are your opening hours?"
WAV_RATE = 16000


async def _synthesize(text: str) -> bytes:
    tts = build_provider("tts", "hibari")
    audio = bytearray()
    async for chunk in tts.synthesize(text, TTSOptions()):
        audio += chunk
    await tts.aclose()
    return bytes(audio)


def write_question_wav(path: Path) -> Path:
    """The caller's side: 3 s of quiet (the greeting), the question, then 15 s of quiet (Chromium
    loops the file: the question must not come round again during the test)."""
    speech = ulaw_to_pcm16(asyncio.run(_synthesize(QUESTION)))
    speech = resample(speech, 8000, WAV_RATE).astype("<i2").tobytes()
    silence = b"\x00\x00" * WAV_RATE
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(WAV_RATE)
        wav.writeframes(silence * 3 + speech + silence * 15)
    return path


def wait_until(browser, condition, timeout_s: float, what: str) -> None:
    """Wait for `condition`; on timeout fail with what the page showed (status, transcript,
    console), not a bare TimeoutException."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        WebDriverWait(browser, timeout_s).until(condition)
    except TimeoutException:
        status = browser.find_element(By.ID, "talk-status").text
        transcript = browser.find_element(By.ID, "talk-transcript").text
        pytest.fail(f"{what} within {timeout_s} s. Status: {status!r}; transcript: "
                    f"{transcript!r}; console: {browser.get_log('browser')}")


@pytest.fixture
def server():
    with daphne_server() as base_url:
        yield base_url


def test_a_member_talks_to_the_agent_from_the_browser(server, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    # given the demo agent, its owner signed in, and a microphone that asks a question
    seed = demo_seed(number="+15550100000")
    wav = write_question_wav(tmp_path / "question.wav")
    with chromium(tmp_path / "profile", extra_flags=fake_microphone(wav)) as browser:
        browser.get(f"{server}/portal/login/")
        browser.find_element(By.NAME, "username").send_keys(seed.username)
        browser.find_element(By.NAME, "password").send_keys(seed.password)
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
        browser.get(f"{server}/portal/agents/{seed.agent_id}/")
        click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Talk to this agent"))

        # when the member starts the call and the microphone asks
        browser.find_element(By.ID, "talk-start").click()

        # then the agent's opening (the recording notice, then the greeting: the question may
        # cut into it) and its answer appear in the live transcript, with the answer's latency
        def agent_said(text):
            def check(driver):
                bubbles = driver.find_elements(By.CSS_SELECTOR, "#talk-transcript .bubble--agent")
                return any(text in bubble.text.lower() for bubble in bubbles)
            return check

        wait_until(browser, agent_said("monday to friday"), 60, "no answer")
        first = browser.find_element(By.CSS_SELECTOR, "#talk-transcript .bubble")
        assert first.get_attribute("data-role") == "agent"
        caller_words = " ".join(b.text.lower() for b in browser.find_elements(
            By.CSS_SELECTOR, "#talk-transcript .bubble--caller"))
        assert "hours" in caller_words or "open" in caller_words
        latencies = browser.find_elements(By.CSS_SELECTOR, "#talk-transcript .talk__latency")
        assert any("ms after you stopped speaking" in line.text for line in latencies)

        # and the keypad sends keys as a phone's: two clicked, one typed, "#" ends the entry
        browser.find_element(By.CSS_SELECTOR, '#talk-keypad [data-digit="4"]').click()
        browser.find_element(By.CSS_SELECTOR, '#talk-keypad [data-digit="2"]').click()
        ActionChains(browser).send_keys("#").perform()

        def caller_pressed(driver):
            return any("[DTMF 42#]" in bubble.text for bubble in driver.find_elements(
                By.CSS_SELECTOR, "#talk-transcript .bubble--caller"))

        wait_until(browser, caller_pressed, 20, "the keys were not heard")

        # and when the member hangs up, the call is stored as a browser call of the agent
        browser.find_element(By.ID, "talk-stop").click()
        wait_until(browser, lambda d: "Call ended" in d.find_element(By.ID, "talk-status").text,
                   20, "the call did not end")
        assert all(not key.is_enabled() for key in browser.find_elements(
            By.CSS_SELECTOR, "#talk-keypad button"))  # no call, no keys
        assert console_errors(browser) == []
        if os.environ.get("AYBIZA_SCREENSHOTS"):  # make screenshots: the page after a call
            full_page_screenshot(browser, Path(os.environ["AYBIZA_SCREENSHOTS"])
                                 / "browser-test-call.png", DESKTOP[0])

    call = Call.objects.get(direction=Direction.BROWSER)
    assert call.agent_id == seed.agent_id and call.tenant_id == seed.tenant_id
    assert call.outcome and call.ended_at is not None
    turns = list(call.turns.order_by("index"))
    assert turns[0].role == "agent"
    assert "monday to friday" in " ".join(t.text for t in turns if t.role == "agent").lower()
    assert any(t.role == "caller" and t.text == "[DTMF 42#]" for t in turns)
    assert [e.payload["digit"] for e in call.events.filter(type="dtmf").order_by("id")] == [
        "4", "2", "#"]
