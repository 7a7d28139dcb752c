"""The live overview in real headless Chromium against a real daphne process: a phone call
placed by the simulator appears as active while it talks (with what it is doing: listening,
thinking, speaking) and is counted when it ends, with no reload. Any console error fails the
test."""

from __future__ import annotations

import asyncio
import threading

import pytest

from agents.demo import demo_seed
from aybiza.portal.tests.browser import browser_missing, chromium, click_and_wait, console_errors
from calls.simulator.caller import ScriptedCaller, parse_script
from calls.simulator.phone import TwilioPhone
from tests.daphne_server import daphne_server

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(browser_missing()), reason=browser_missing() or "")]
TOKEN = "e2e-twilio-token"


def read_fresh(read):
    """`read()`, again if the live page swapped an element it touched as an update landed."""
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(20):
        try:
            return read()
        except StaleElementReferenceException:
            continue
    raise AssertionError("the live page kept replacing what the test reads")


def stat(browser, name: str) -> str:
    from selenium.webdriver.common.by import By

    return read_fresh(lambda: browser.find_element(By.CSS_SELECTOR, f"[data-stat='{name}']").text)


def active_calls_text(browser) -> str:
    from selenium.webdriver.common.by import By

    return read_fresh(lambda: browser.find_element(By.ID, "active-title")
                      .find_element(By.XPATH, "..").text)


def open_first_active_call(browser) -> None:
    from selenium.webdriver.common.by import By

    read_fresh(lambda: click_and_wait(browser, browser.find_element(
        By.CSS_SELECTOR, "[aria-labelledby=active-title] li a")))


def test_a_call_appears_live_on_the_overview_and_is_counted_when_it_ends(settings, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    settings.TWILIO_AUTH_TOKEN = TOKEN
    with daphne_server({"TWILIO_AUTH_TOKEN": TOKEN}) as base_url:
        seed = demo_seed(number="+15550100000", base_url=base_url)
        with chromium(tmp_path / "profile") as browser:
            browser.get(f"{base_url}/portal/login/")
            browser.find_element(By.NAME, "username").send_keys(seed.username)
            browser.find_element(By.NAME, "password").send_keys(seed.password)
            click_and_wait(browser, browser.find_element(By.CSS_SELECTOR,
                                                         "form button[type=submit]"))
            WebDriverWait(browser, 10).until(
                lambda d: d.find_element(By.ID, "live-status").get_attribute("data-state")
                == "live")
            assert stat(browser, "active") == "0" and stat(browser, "calls") == "0"
            # when a caller rings the demo number
            caller = ScriptedCaller(TwilioPhone(base_url, TOKEN), to=seed.number,
                                    from_="+15557654321", printer=lambda line: None,
                                    turn_timeout_s=20)
            call = threading.Thread(target=lambda: asyncio.run(caller.run(parse_script(
                ["What are your opening hours?", "Thank you, goodbye."]))))
            call.start()
            try:
                # then the open page shows it active, then counted and no longer active
                WebDriverWait(browser, 20).until(lambda d: stat(d, "active") == "1")
                assert stat(browser, "calls") == "1"
                assert "•••• 4321" in active_calls_text(browser)
                # with what it is doing now, pushed as it changes (the agent talks first)
                WebDriverWait(browser, 20, ignored_exceptions=[StaleElementReferenceException]
                              ).until(lambda d: d.find_element(
                                  By.CSS_SELECTOR, "[data-call-state]").text == "Speaking")
                # and opening it shows its transcript as it is said, then how it ended
                open_first_active_call(browser)
                assert browser.find_element(By.ID, "call-live").is_displayed()
                WebDriverWait(browser, 20, ignored_exceptions=[StaleElementReferenceException]
                              ).until(lambda d: d.find_element(By.ID, "call-state").text
                                      in ("Listening", "Thinking", "Speaking"))
                WebDriverWait(browser, 60, ignored_exceptions=[StaleElementReferenceException]
                              ).until(lambda d: "monday to friday" in d.find_element(
                                  By.ID, "transcript").text.lower())
                assert browser.find_elements(By.ID, "call-live")  # answered while still live
                WebDriverWait(browser, 60).until(
                    lambda d: not d.find_elements(By.ID, "call-live"))
                facts = browser.find_element(By.CSS_SELECTOR, ".facts").text
                assert "Agent ended the call" in facts or "Caller hung up" in facts
            finally:
                call.join(timeout=60)
            # and the overview counted it, with nothing active any more
            browser.get(f"{base_url}/portal/")
            assert stat(browser, "calls") == "1" and stat(browser, "active") == "0"
            assert console_errors(browser) == []
