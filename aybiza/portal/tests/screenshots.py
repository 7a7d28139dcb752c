"""`make screenshots`: docs/portal/*.png of the main portal pages, from the same headless
Chromium as the browser journeys, over a tenant with a few agents, numbers and calls.

Not part of the suite (the name does not match test_*.py); run it by path."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from aybiza.core.models import Role
from aybiza.core.services import api_key_create, membership_set
from aybiza.portal.tests.browser import (
    DESKTOP,
    PHONE,
    browser_missing,
    chromium,
    click_and_wait,
    console_errors,
    demo_booking_tool,
    full_page_screenshot,
)
from aybiza.portal.tests.factories import make_call
from calls.models import Outcome

OUT = Path(settings.BASE_DIR) / "docs" / "portal"
KNOWLEDGE = [
    {"question": "What are your opening hours?",
     "answer": "We are open Monday to Friday from nine to five, and Saturday from nine to one."},
    {"question": "Where are you located?",
     "answer": "We are at 12 Main Street, Springfield, next to the post office."},
    {"question": "How much does a check-up cost?",
     "answer": "A check-up is 60 dollars, a cleaning is 90 dollars."},
]


def seed_showcase(tenant) -> dict[str, int]:
    from agents.services import agent_create, phone_number_create

    reception = agent_create(
        tenant=tenant, name="Reception", status="live", knowledge=KNOWLEDGE,
        greeting="Hello, thanks for calling Acme Dental. How can I help you today?",
        system_prompt="You are the friendly receptionist of Acme Dental. Answer in one or two "
                      "short sentences. Never give medical advice.")
    billing = agent_create(tenant=tenant, name="Billing questions", status="live",
                           greeting="Acme Dental billing, how can I help?",
                           knowledge=KNOWLEDGE[2:])
    agent_create(tenant=tenant, name="After-hours line", status="draft",
                 greeting="You've reached Acme Dental after hours.")
    from agents.services import agent_update
    from agents.versions import agent_publish
    launch = agent_publish(tenant=tenant, agent=reception, note="Launch")
    agent_update(tenant=tenant, agent=reception,
                 greeting="Hi, you've reached Acme Dental. Are you booking, or asking a question?")
    asks = agent_publish(tenant=tenant, agent=reception,
                         note="Greeting asks what the caller needs")
    agent_update(tenant=tenant, agent=reception, end_of_turn_silence_ms=600)
    agent_publish(tenant=tenant, agent=reception, note="Answers sooner after the caller stops",
                  rollout_percent=10)  # a staged rollout under way: v3 for 10 % of calls
    phone_number_create(tenant=tenant, e164="+15550100000", label="Main line",
                        agent_id=reception.pk)
    phone_number_create(tenant=tenant, e164="+15550100001", label="Billing",
                        agent_id=billing.pk)
    phone_number_create(tenant=tenant, e164="+15550100002", label="Spare")
    now = timezone.now()
    outcomes = [Outcome.AGENT_ENDED, Outcome.CALLER_HUNG_UP, Outcome.AGENT_ENDED,
                Outcome.NO_INPUT, Outcome.TRANSFERRED, Outcome.CALLER_HUNG_UP,
                Outcome.DISCONNECTED, Outcome.AGENT_ENDED]
    calls = [make_call(tenant=tenant, agent=billing if n % 3 == 2 else reception,
                       started_at=now - timedelta(hours=3 * n + 1),
                       from_number=f"+1555014{2233 + 37 * n:04d}", outcome=outcome)
             for n, outcome in enumerate(outcomes)]
    from calls.models import Call
    for n, call in enumerate(calls):  # the older calls ran v1, the newer v2
        if call.agent_id == reception.pk:
            Call.objects.filter(pk=call.pk).update(agent_version=launch if n >= 4 else asks)
    # What happened on each call (learning/), and the callers remembered (memory/).
    from learning.services import call_analyze
    from memory.services import contact_update, memory_remember
    from tools.models import ExecutionStatus, ToolExecution

    ToolExecution.objects.create(tenant=tenant, call=calls[0], tool_name="book_appointment",
                                 arguments={"when": "Tuesday at ten"},
                                 status=ExecutionStatus.SUCCEEDED, result={"reference": "BA60"})
    agent_update(tenant=tenant, agent=reception, success_criteria="An appointment is booked.",
                 extraction_schema={"type": "object", "properties": {"when": {"type": "string"}}})
    for call in calls:
        call_analyze(call_id=call.pk)
    from learning.services import scenario_create

    scenario_create(tenant=tenant, agent=reception, name="Answers the opening hours",
                    caller_lines=["What are your opening hours?"],
                    checks=[{"type": "reply_contains", "text": "Monday to Friday"}])
    contact_update(tenant=tenant, contact=calls[0].contact, name="Ana Lima")
    _record(calls[0])
    from calls.models import Transfer, TransferState

    Transfer.objects.create(tenant=tenant, call=calls[0], destination="the front desk",
                            target="+15550107000", state=TransferState.RETURNED,
                            person_status="no-answer")
    Transfer.objects.create(tenant=tenant, call=calls[4], destination="billing",
                            target="+15550107001", state=TransferState.BRIDGED)
    memory_remember(tenant=tenant, contact=calls[0].contact, key="preferred_dentist",
                    value="Dr. Okafor", source_call=calls[0])
    from agents.documents import document_add
    from agents.tests.pdfs import text_pdf

    document_add(tenant=tenant, agent=reception, filename="Patient handbook.md", data=(
        b"# Parking\n\nFree parking is behind the clinic, entrance on Elm Street. Spaces for "
        b"wheelchairs are by the door.\n\n# Insurance\n\nWe accept Delta Dental, Cigna and "
        b"Aetna plans. Bring your insurance card to your first visit.\n"))
    document_add(tenant=tenant, agent=reception, filename="Price list 2026.pdf", data=text_pdf(
        [["Cleaning: 80 dollars.", "Whitening: 300 dollars per session."]]))
    # What callers asked that it could not answer: the learning job's suggestions.
    from calls.models import Role as TurnRole
    from learning.suggestions import learning_run

    for n, question in enumerate(("Do you do teeth whitening?", "Do you offer whitening?",
                                  "Can I get my teeth whitened?", "Do you see children?",
                                  "Do you treat children?")):
        asked = make_call(tenant=tenant, agent=reception,
                          started_at=now - timedelta(minutes=20 + n),
                          conversation=[(TurnRole.AGENT, "Hello, Acme Dental.", None),
                                        (TurnRole.CALLER, question, None)])
        call_analyze(call_id=asked.pk)
    for n in range(3):  # callers who gave up at the time question, after a slow answer
        gave_up = make_call(
            tenant=tenant, agent=reception, started_at=now - timedelta(minutes=30 + n),
            outcome=Outcome.CALLER_HUNG_UP, with_extras=False,
            conversation=[(TurnRole.AGENT, "Hello, Acme Dental.", None),
                          (TurnRole.CALLER, "I'd like to book a cleaning.", None),
                          (TurnRole.AGENT, "Sure. What day and time would you like?",
                           (1450 + 40 * n, 1600 + 40 * n, 1750 + 40 * n, 1820 + 40 * n)),
                          (TurnRole.CALLER, "I'm not sure yet, I'll call back.", None)])
        call_analyze(call_id=gave_up.pk)
        # Judged as a cloud model would (the offline analyser cannot: the agent has no tool).
        gave_up.analysis.__class__.objects.filter(call=gave_up).update(
            success=False, success_reason="No appointment was booked.")
    learning_run(tenant=tenant, agent=reception)
    api_key_create(tenant=tenant, name="CRM sync", scopes=["read"])
    api_key_create(tenant=tenant, name="Booking website")
    from django.contrib.auth import get_user_model

    from aybiza.core.services import invitation_create
    for username, role in (("james", Role.ADMIN), ("lena", Role.VIEWER)):
        colleague = get_user_model().objects.create_user(
            username, email=f"{username}@acme-dental.example")
        membership_set(tenant=tenant, user=colleague, role=role)
    invitation_create(tenant=tenant, email="front-desk@acme-dental.example", role=Role.MEMBER,
                      invited_by=None, invited_by_role=Role.OWNER)
    campaign = seed_campaign(tenant, reception)
    return {"agent": reception.pk, "call": calls[0].pk, "reception": reception,
            "contact": calls[0].contact_id, "campaign": campaign.pk}


def _record(call) -> None:
    """A short stereo recording, stored as a call's end stores it (sealed with the key)."""
    import io
    import wave

    import numpy as np

    from calls.recordings import recording_attach

    seconds = np.arange(8000 * 3) / 8000
    caller = (np.sin(2 * np.pi * 220 * seconds) * 6000).astype(np.int16)
    agent = (np.sin(2 * np.pi * 330 * seconds) * 6000).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(np.column_stack([caller, agent]).tobytes())
    recording_attach(call=call, audio=buffer.getvalue(), name=f"{call.call_sid}.wav")
    call.save(update_fields=["recording"])


def seed_campaign(tenant, agent):
    """A reminder campaign half-way through: rows in every state, two lines refused."""
    import datetime

    from agents.models import PhoneNumber
    from calls.campaign_models import CampaignContact, ContactState
    from calls.campaigns import campaign_create, campaign_import_csv, campaign_start
    from memory.services import contact_do_not_call_set

    contact_do_not_call_set(tenant=tenant, e164="+15550149902", do_not_call=True)
    contact_do_not_call_set(tenant=tenant, e164="+15550149917", do_not_call=True)
    names = ["Ana Lima", "Ben Okafor", "Chloe Martin", "Dev Patel", "Elif Yilmaz", "Femi Ade",
             "Grace Kim", "Hugo Silva", "Ines Costa", "Jonas Berg", "Kira Ito", "Liam Walsh"]
    rows = [f"+1555014{9920 + n:04d},{name},Tuesday 10am" for n, name in enumerate(names)]
    rows[3:3] = ["+1555 banana,Milo,", "+15550149902,Nora,"]
    campaign = campaign_create(
        tenant=tenant, agent=agent, from_number=PhoneNumber.objects.get(e164="+15550100000"),
        name="December check-up reminders", legal_basis="existing_customer",
        window_start=datetime.time(9), window_end=datetime.time(19), max_concurrent=3,
        calls_per_second=1)
    campaign_import_csv(tenant=tenant, campaign=campaign,
                        data="\n".join(["phone,name,appointment", *rows]).encode())
    campaign_start(tenant=tenant, campaign=campaign)
    states = [(ContactState.ANSWERED, 1, "agent_ended"), (ContactState.ANSWERED, 2,
                                                           "agent_ended"),
              (ContactState.VOICEMAIL, 1, "voicemail"), (ContactState.ANSWERED, 1,
                                                         "agent_ended"),
              (ContactState.FAILED, 3, "no-answer"), (ContactState.VOICEMAIL, 1, "voicemail"),
              (ContactState.CALLING, 1, ""), (ContactState.CALLING, 2, "busy"),
              (ContactState.PENDING, 1, "busy")]
    for row, (state, attempts, result) in zip(campaign.rows.order_by("row_number"), states,
                                              strict=False):
        CampaignContact.objects.filter(pk=row.pk).update(state=state, attempts=attempts,
                                                         result=result)
    return campaign


@pytest.mark.skipif(bool(browser_missing()), reason=browser_missing() or "")
@pytest.mark.django_db(transaction=True)
def test_screenshots(asgi_server, tenant, django_user_model, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    user = django_user_model.objects.create_user("maria", password="pw-maria-123")
    membership_set(tenant=tenant, user=user, role=Role.OWNER)
    ids = seed_showcase(tenant)
    tool = demo_booking_tool(tenant=tenant, base_url=asgi_server.url,
                             agent_ids=[ids["reception"].pk])
    from calls.alerts import alert_rule_create, alerts_evaluate

    alert_rule_create(tenant=tenant, name="Slow answers", metric="latency_p95_ms",
                      threshold=700, window_minutes=1440, min_samples=3,
                      email_to=["ops@acme-dental.example"])
    alert_rule_create(tenant=tenant, name="Failing calls", metric="error_rate_pct",
                      threshold=5, window_minutes=1440, min_samples=3)
    alerts_evaluate()
    from datetime import timedelta

    from django.utils import timezone

    from calls.rollups import rollups_compute

    for back in range(30):  # what beat keeps up to date: the overview's trend reads it
        rollups_compute(hour=timezone.now() - timedelta(hours=back))
    pages = [
        ("overview", "/portal/", DESKTOP), ("agents", "/portal/agents/", DESKTOP),
        ("agent", f"/portal/agents/{ids['agent']}/", DESKTOP),
        ("agent-versions", f"/portal/agents/{ids['agent']}/versions/?from=1&to=2", DESKTOP),
        ("agent-documents", f"/portal/agents/{ids['agent']}/documents/?q=Do+you+take+Cigna",
         DESKTOP),
        ("agent-suggestions", f"/portal/agents/{ids['agent']}/suggestions/", DESKTOP),
        ("calls", "/portal/calls/", DESKTOP), ("call", f"/portal/calls/{ids['call']}/", DESKTOP),
        ("alerts", "/portal/alerts/", DESKTOP),
        ("campaigns", "/portal/campaigns/", DESKTOP),
        ("campaign", f"/portal/campaigns/{ids['campaign']}/", DESKTOP),
        ("campaign-new", "/portal/campaigns/new/", DESKTOP),
        ("do-not-call", "/portal/do-not-call/", DESKTOP),
        ("contacts", "/portal/contacts/", DESKTOP),
        ("contact", f"/portal/contacts/{ids['contact']}/", DESKTOP),
        ("numbers", "/portal/numbers/", DESKTOP), ("api-keys", "/portal/api-keys/", DESKTOP),
        ("tools", "/portal/tools/", DESKTOP), ("team", "/portal/team/", DESKTOP),
        ("compliance", "/portal/compliance/?verify=1", DESKTOP),
        ("call-phone", f"/portal/calls/{ids['call']}/", PHONE),
        ("agents-phone", "/portal/agents/", PHONE),
    ]
    with chromium(tmp_path / "profile") as browser:
        browser.get(f"{asgi_server.url}/portal/login/")
        full_page_screenshot(browser, OUT / "login.png", DESKTOP[0])
        browser.find_element(By.NAME, "username").send_keys("maria")
        browser.find_element(By.NAME, "password").send_keys("pw-maria-123")
        click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
        for name, path, (width, height) in pages:
            browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
            browser.get(f"{asgi_server.url}{path}")
            full_page_screenshot(browser, OUT / f"{name}.png", width)
        # Try it: a real run of the booking tool against this server's demo calendar
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": DESKTOP[0], "height": DESKTOP[1], "deviceScaleFactor": 1, "mobile": False})
        browser.get(f"{asgi_server.url}/portal/tools/{tool.pk}/")
        arguments = browser.find_element(By.NAME, "arguments")
        arguments.clear()
        arguments.send_keys('{"when": "Tuesday at ten"}')
        browser.find_element(By.CSS_SELECTOR, "#try button").click()  # htmx: in place
        WebDriverWait(browser, 30).until(
            lambda d: d.find_elements(By.CSS_SELECTOR, ".try-result"))
        full_page_screenshot(browser, OUT / "tool-try.png", DESKTOP[0])
        # The call's recording plays in the browser through its signed link, and seeks.
        browser.get(f"{asgi_server.url}/portal/calls/{ids['call']}/")
        played = browser.execute_async_script("""
            const done = arguments[arguments.length - 1];
            const player = document.querySelector("audio.recording__player");
            player.muted = true;
            player.addEventListener("seeked", () => done({duration: player.duration,
                                                          at: player.currentTime}));
            player.addEventListener("error", () => done({error: player.error.code}));
            player.addEventListener("loadedmetadata", () => { player.currentTime = 2; });
            player.load();
        """)
        assert played["duration"] == pytest.approx(3, abs=0.05) and played["at"] >= 1.9, played
        assert console_errors(browser) == []
    print(f"screenshots in {OUT}")
