"""Headless Debian Chromium driven by Selenium, for the portal's browser journeys and
`make screenshots`. No network: the driver is the system's chromedriver, not a download."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
DESKTOP = (1280, 900)
PHONE = (375, 812)


def browser_missing() -> str | None:
    """Why a browser journey cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (requirements/dev.txt)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is missing (Debian packages chromium and chromium-driver)"
    return None


def fake_microphone(wav: Path) -> list[str]:
    """Chromium flags for a microphone that plays `wav` (looped) and is allowed without asking."""
    return ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
            "--autoplay-policy=no-user-gesture-required"]


@contextmanager
def chromium(profile_dir: Path, extra_flags: list[str] | None = None) -> Iterator:
    """A fresh headless Chromium (its own profile in `profile_dir`) that keeps console logs."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--hide-scrollbars",
                 f"--window-size={DESKTOP[0]},{DESKTOP[1]}", f"--user-data-dir={profile_dir}",
                 *(extra_flags or [])):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def click_and_wait(driver, element, timeout_s: float = 15) -> None:
    """Click something that loads a new page, and return once that page has replaced the old
    one (a plain click returns before the navigation; the next lookup would see the old page)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    old_page = driver.find_element("tag name", "html")
    element.click()

    def replaced(_driver) -> bool:
        try:
            old_page.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:  # the old document is being torn down right now
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    WebDriverWait(driver, timeout_s).until(replaced)
    WebDriverWait(driver, timeout_s).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def viewport(driver, size: tuple[int, int]) -> None:
    """Render as a device of `size` CSS pixels (the window size alone is not exact headless)."""
    from selenium.webdriver.support.ui import WebDriverWait

    width, height = size
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    # The override reaches the renderer asynchronously: a page loaded before it lands would be
    # laid out, and measured, at the old width.
    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return screen.width;") == width)


def console_errors(driver) -> list[str]:
    """Console errors and failed loads since the last call (the log is drained by reading)."""
    return [entry["message"] for entry in driver.get_log("browser")
            if entry["level"] in ("SEVERE", "ERROR")]


def horizontal_overflow_px(driver) -> int:
    """How far the page is wider than the viewport (0 when nothing needs sideways scrolling)."""
    return driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")


def wider_than_viewport(driver) -> list[str]:
    """What reaches past the viewport's right edge outside any scrolling box (what to fix when a
    page needs sideways scrolling): tag#id.class and the right edge in px, innermost last."""
    return driver.execute_script("""
        const limit = document.documentElement.clientWidth + 0.5;
        const scrolls = (el) => ["auto", "scroll", "hidden", "clip"].includes(
          getComputedStyle(el).overflowX);
        const contained = (el) => {
          for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
            if (scrolls(up)) return true;
          }
          return false;
        };
        const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
          + (typeof el.className === "string" && el.className.trim()
             ? "." + el.className.trim().split(/\\s+/).join(".") : "");
        return Array.from(document.body.querySelectorAll("*"))
          .filter((el) => el.getBoundingClientRect().right > limit && !contained(el))
          .map((el) => `${name(el)} right=${Math.round(el.getBoundingClientRect().right)}`)
          .slice(-8);""")


def full_page_screenshot(driver, path: Path, width: int) -> None:
    """A PNG of the whole page at `width` CSS pixels."""
    height = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": max(int(height), 300), "deviceScaleFactor": 1,
        "mobile": width < 600})
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))


def demo_booking_tool(*, tenant, base_url: str, agent_ids: list[int] | None = None):
    """The demo's `book_appointment` tool (agents.demo) against the demo calendar of the server
    at `base_url`, which the tenant's SSRF allowlist must let it reach."""
    from urllib.parse import urlsplit

    from agents.demo import DEMO_TOOL
    from agents.demo_calendar import demo_calendar_secret
    from tools.services import tool_create, tool_network_allowlist_set

    tool_network_allowlist_set(tenant=tenant, entries=[urlsplit(base_url).hostname, "127.0.0.1"])
    return tool_create(tenant=tenant, secrets={"hmac_secret": demo_calendar_secret()},
                       agent_ids=agent_ids or [], **DEMO_TOOL,
                       url_template=base_url.rstrip("/") + "/demo/calendar/bookings/")
