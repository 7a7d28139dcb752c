"""An outbound campaign end to end: daphne with its in-process dialer clock, Twilio's REST API
and phone network simulated at the wire (the real twilio SDK dials; signed callbacks, async
machine detection and media streams come back), the offline agent talking to each callee."""

from __future__ import annotations

import asyncio
import csv
import io

import pytest

from agents.demo import demo_seed
from calls.campaign_models import CampaignContact, ContactState
from calls.models import Call, CallEvent, Outcome
from calls.simulator.campaign_demo import PEOPLE, run_campaign
from tests.daphne_server import daphne_server
from tests.fakes.twilio_rest import FakeTwilioRest

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
TOKEN = "e2e-twilio-token"
BOOKER, VOICEMAIL, BUSY_THEN_HUMAN = (person.number for person in PEOPLE)


def test_a_campaign_books_leaves_a_voicemail_and_retries_a_busy_line(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    with FakeTwilioRest(auth_token=TOKEN) as carrier, daphne_server({
            "TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": carrier.account_sid,
            "TWILIO_API_BASE_URL": carrier.base_url, "DIALER_EMBEDDED_CLOCK": "true",
            "OPENING_AUDIO_PREPARE": "true"}) as url:
        seed = demo_seed(number="+15550100000", base_url=url)  # its tools call this server
        result = asyncio.run(run_campaign(
            base_url=url, api_key=seed.api_key, agent_id=seed.agent_id, from_e164=seed.number,
            carrier=carrier, printer=lambda line: None, retry_delay_s=1, timeout_s=240))

    # the campaign finished with each row where it should be
    assert result["campaign"]["status"] == "completed"
    states = {row.row_number: (row.state, row.attempts)
              for row in CampaignContact.objects.all()}
    assert states == {2: (ContactState.ANSWERED, 1), 3: (ContactState.VOICEMAIL, 1),
                      4: (ContactState.ANSWERED, 2)}
    # nobody was dialled twice except the busy line's one retry
    assert dict(carrier.dials) == {BOOKER: 1, VOICEMAIL: 1, BUSY_THEN_HUMAN: 2}
    # every create asked for async machine detection and our signed callbacks
    creates = [r for r in carrier.requests if r.resource == "calls.create"]
    assert all(r.value("AsyncAmd") == "true" and r.value("MachineDetection") ==
               "DetectMessageEnd" for r in creates)

    # the person who wanted a check-up booked one (the demo calendar's tool ran)
    booking = Call.objects.get(to_number=BOOKER)
    assert booking.outcome in (Outcome.AGENT_ENDED, Outcome.CALLER_HUNG_UP)
    agent_lines = " ".join(t.text for t in booking.turns.filter(role="agent"))
    assert "due for a check-up" in agent_lines
    assert "You're booked for Tuesday" in agent_lines
    # the voicemail box got the message after its beep, then the agent hung up
    machine = Call.objects.get(to_number=VOICEMAIL)
    assert machine.answered_by == "machine_end_beep" and machine.outcome == Outcome.VOICEMAIL
    assert machine.turns.filter(role="agent", text__contains="please call us back").exists()
    assert CallEvent.objects.filter(call=machine, type="answering_machine").exists()
    # everything said to it (opening, "Hi Sam", the message) was made while it rang
    assert not machine.cost.get("tts"), machine.cost
    placed = next(c for c in carrier.placed.values() if c.to == VOICEMAIL)
    assert len(placed.message_audio) > 8000 * 3  # seconds of message recorded after the beep
    # the busy line: busy first, answered on the retry
    assert [c.status for c in Call.objects.filter(to_number=BUSY_THEN_HUMAN).order_by("id")] \
        == ["busy", "completed"]
    # and the export says so too
    exported = {row["phone_number"]: row for row in csv.DictReader(io.StringIO(
        result["export"]))}
    assert exported[VOICEMAIL]["state"] == "voicemail"
    assert exported[BUSY_THEN_HUMAN]["attempts"] == "2"
