"""A member's first visit in real headless Chromium: sign in, create an agent, add a knowledge
entry, open the calls. Any JavaScript console error (or failed asset load) fails the test."""

from __future__ import annotations

import pytest

from aybiza.core.models import Role
from aybiza.core.services import membership_set
from aybiza.portal.tests.browser import (
    PHONE,
    browser_missing,
    chromium,
    click_and_wait,
    console_errors,
    horizontal_overflow_px,
    viewport,
    wider_than_viewport,
)
from aybiza.portal.tests.factories import make_call

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(bool(browser_missing()), reason=browser_missing() or "")]


@pytest.fixture
def browser(tmp_path):
    with chromium(tmp_path / "chromium-profile") as driver:
        yield driver
        # Whatever the test did, the console must have stayed clean.
        assert console_errors(driver) == []


def test_sign_in_create_an_agent_add_knowledge_and_open_the_calls(
        browser, asgi_server, tenant, django_user_model):
    from selenium.webdriver.common.by import By

    from agents.models import Agent

    user = django_user_model.objects.create_user("maria", password="pw-maria-123")
    membership_set(tenant=tenant, user=user, role=Role.OWNER)

    def field(name: str):
        return browser.find_element(By.NAME, name)

    def save() -> None:
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR,
                                                     ".form-actions button[type=submit]"))

    # the portal sends a stranger to sign in, with a styled page
    browser.get(f"{asgi_server.url}/portal/agents/")
    assert "/portal/login/" in browser.current_url
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in"
    assert browser.execute_script(  # the stylesheet loaded: the primary button is coloured
        "return getComputedStyle(document.querySelector('.button--primary')).backgroundColor"
    ) != "rgba(0, 0, 0, 0)"
    field("username").send_keys("maria")
    field("password").send_keys("pw-maria-123")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))

    # back on the agents page: the empty state leads to creating the first agent
    assert browser.current_url.endswith("/portal/agents/")
    click_and_wait(browser, browser.find_element(By.LINK_TEXT, "Create your first agent"))
    field("name").send_keys("Front desk")
    field("greeting").send_keys("Hello from Acme Dental!")
    field("knowledge-0-question").send_keys("Do you take walk-ins?")
    field("knowledge-0-answer").send_keys("Yes, every morning until eleven.")
    save()

    # the agent is stored with its knowledge, and the page offers an empty row for the next one
    assert "Saved “Front desk”." in browser.find_element(By.CSS_SELECTOR, ".messages").text
    agent = Agent.objects.get(tenant=tenant, name="Front desk")
    assert field("knowledge-0-question").get_attribute("value") == "Do you take walk-ins?"
    field("knowledge-1-question").send_keys("Is there parking?")
    field("knowledge-1-answer").send_keys("Yes, behind the building.")
    save()
    assert list(agent.knowledge.values_list("question", flat=True)) == [
        "Do you take walk-ins?", "Is there parking?"]

    # a bad value comes back at its field, in the browser too
    field("end_of_turn_silence_ms").clear()
    field("end_of_turn_silence_ms").send_keys("-5")
    save()
    assert "greater than or equal to" in browser.find_element(
        By.ID, "id_end_of_turn_silence_ms_errors").text

    # the calls page, from the main navigation, with its empty state
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "nav.mainnav").find_element(
        By.LINK_TEXT, "Calls"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Calls"
    assert "No calls yet" in browser.page_source

    # and at 375 px wide, no page needs sideways scrolling (a call with every section too)
    call = make_call(tenant=tenant, agent=agent)
    viewport(browser, PHONE)
    for path in ("/portal/", "/portal/agents/", f"/portal/agents/{agent.pk}/", "/portal/calls/",
                 f"/portal/calls/{call.pk}/", "/portal/numbers/", "/portal/api-keys/",
                 "/portal/api-keys/new/", "/portal/numbers/new/"):
        browser.get(f"{asgi_server.url}{path}")
        assert horizontal_overflow_px(browser) <= 0, (path, wider_than_viewport(browser))


def test_keyboard_users_see_where_the_focus_is(browser, asgi_server):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    # the login page focuses the username; Tab moves on to the password. The browser applies
    # `autofocus` at its next rendering update, which can come after the page's load event.
    browser.get(f"{asgi_server.url}/portal/login/")
    WebDriverWait(browser, 5).until(
        lambda b: b.switch_to.active_element.get_attribute("name") == "username")
    ActionChains(browser).send_keys(Keys.TAB).perform()

    focused = browser.switch_to.active_element
    assert focused == browser.find_element(By.NAME, "password")
    style, width = browser.execute_script(
        "const s = getComputedStyle(document.activeElement); return [s.outlineStyle, "
        "s.outlineWidth]")
    assert style != "none" and float(width.removesuffix("px")) >= 2


def test_try_a_tool_from_its_page(browser, asgi_server, owner, tenant):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from aybiza.portal.tests.browser import demo_booking_tool

    # given the demo's booking tool, calling this live server's demo calendar
    tool = demo_booking_tool(tenant=tenant, base_url=asgi_server.url)
    browser.get(f"{asgi_server.url}/portal/login/")
    browser.find_element(By.NAME, "username").send_keys("owner")
    browser.find_element(By.NAME, "password").send_keys("pw-owner-123")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))

    # when, halfway through editing its description, the member tries it with sample arguments
    browser.get(f"{asgi_server.url}/portal/tools/{tool.pk}/")
    browser.execute_script("window.samePage = true")
    browser.find_element(By.NAME, "description").send_keys(" (unsaved edit)")
    arguments = browser.find_element(By.NAME, "arguments")
    arguments.clear()
    arguments.send_keys('{"when": "Tuesday at ten"}')
    browser.find_element(By.CSS_SELECTOR, "#try button").click()

    # then the result appears in place (htmx), the unsaved edit is still there, and the signed
    # request really reached the calendar, which booked it
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".try-result"))
    result = browser.find_element(By.CSS_SELECTOR, ".try-result").text
    assert browser.execute_script("return window.samePage") is True
    assert browser.find_element(By.NAME, "description").get_attribute("value").endswith(
        " (unsaved edit)")
    assert "Succeeded" in result and "HTTP 200" in result
    assert "You're booked for Tuesday at ten." in result


def test_call_filters_update_the_list_in_place_and_the_address(browser, asgi_server, owner,
                                                               tenant, agent):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    # given calls that ended two ways
    make_call(tenant=tenant, agent=agent, outcome="agent_ended")
    make_call(tenant=tenant, agent=agent, outcome="caller_hung_up")
    make_call(tenant=tenant, agent=agent, outcome="caller_hung_up")
    browser.get(f"{asgi_server.url}/portal/login/")
    browser.find_element(By.NAME, "username").send_keys("owner")
    browser.find_element(By.NAME, "password").send_keys("pw-owner-123")
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    browser.get(f"{asgi_server.url}/portal/calls/")
    browser.execute_script("window.samePage = true")
    assert "3 calls" in browser.find_element(By.ID, "call-results").text

    # when the member picks an outcome (no "Filter" click)
    Select(browser.find_element(By.NAME, "outcome")).select_by_value("caller_hung_up")

    # then the list shows the two matching calls without a page load, and the address says so
    WebDriverWait(browser, 15, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: "2 calls match" in d.find_element(By.ID, "call-results").text)
    assert browser.execute_script("return window.samePage") is True
    assert "outcome=caller_hung_up" in browser.current_url
    # and a reload of that address (or a browser without JavaScript) shows the same list
    browser.get(browser.current_url)
    assert "2 calls match" in browser.find_element(By.ID, "call-results").text
