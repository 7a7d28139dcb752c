"""Twilio's webhooks, signed the way Twilio signs them (the real SDK's RequestValidator).

Payloads are recorded samples in fixtures/twilio_webhooks/.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core import signing
from twilio.request_validator import RequestValidator

from agents.services import phone_number_create
from calls import twilio
from calls.models import Call, CallEvent, CallStatus
from calls.services import call_update_status

FIXTURES = Path(__file__).parent / "fixtures" / "twilio_webhooks"
PUBLIC = "https://voice.example.test"
TOKEN = "0123456789abcdef0123456789abcdef"


def sample(name: str, **overrides: str) -> dict[str, str]:
    return {**json.loads((FIXTURES / f"{name}.json").read_text()), **overrides}


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.TWILIO_AUTH_TOKEN = TOKEN


@pytest.fixture
def twilio_post(client):
    """POST form data as Twilio does: signed over PUBLIC_BASE_URL + path with the auth token."""

    def post(path: str, params: dict[str, str], *, token: str = TOKEN,
             signed_url: str | None = None, signature: str | None = None):
        if signature is None:
            signature = RequestValidator(token).compute_signature(
                signed_url or PUBLIC + path, params)
        return client.post(path, urlencode(params),
                           content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": signature})

    return post


def _twiml(response) -> ET.Element:
    assert response["Content-Type"].startswith("text/xml")
    return ET.fromstring(response.content)


# --- signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/twilio/voice/", "/twilio/status/", "/twilio/stream-status/"])
@pytest.mark.parametrize("forgery", ["missing", "wrong token", "other url", "tampered"])
def test_unsigned_or_forged_requests_are_403_and_change_nothing(path, forgery, twilio_post,
                                                                phone_number):
    # given a request that is not exactly what Twilio signed
    params = sample("voice")
    kwargs = {
        "missing": {"signature": ""},
        "wrong token": {"token": "not-the-token"},
        # The host the request reached is not the origin Twilio was given.
        "other url": {"signed_url": "http://testserver" + path},
        "tampered": {"signature": RequestValidator(TOKEN).compute_signature(
            PUBLIC + path, {**params, "To": "+15550100001"})},
    }[forgery]
    # when
    response = twilio_post(path, params, **kwargs)
    # then
    assert response.status_code == 403
    assert not Call.objects.exists()


def test_webhooks_refuse_get(client):
    assert client.get("/twilio/voice/").status_code == 405


# --- voice --------------------------------------------------------------------------------------


def test_known_number_connects_a_signed_media_stream(twilio_post, phone_number, tenant, agent):
    # when Twilio reports a call to the tenant's number
    response = twilio_post("/twilio/voice/", sample("voice"))
    # then a call row exists for the tenant's agent
    assert response.status_code == 200
    call = Call.objects.get(call_sid="CA11111111111111111111111111111111")
    assert (call.tenant_id, call.agent_id, call.phone_number_id) == (tenant.id, agent.id,
                                                                     phone_number.id)
    assert (call.from_number, call.to_number, call.status, call.direction) == (
        "+14155552671", "+15550100000", "ringing", "inbound")
    # and the TwiML connects a stream to our WebSocket, with a token bound to that call
    root = _twiml(response)
    stream = root.find("./Connect/Stream")
    assert stream is not None
    assert stream.get("url") == "wss://voice.example.test/ws/twilio/media/"
    assert stream.get("statusCallback") == f"{PUBLIC}/twilio/stream-status/"
    parameters = {p.get("name"): p.get("value") for p in stream.findall("Parameter")}
    token = twilio.stream_token_verify(parameters["token"])
    assert token == twilio.StreamToken(call_id=call.id, tenant_id=tenant.id)


def test_plain_http_origin_gets_a_ws_stream(settings, twilio_post, phone_number):
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    response = twilio_post("/twilio/voice/", sample("voice"),
                           signed_url="http://127.0.0.1:8000/twilio/voice/")
    stream = _twiml(response).find("./Connect/Stream")
    assert stream.get("url") == "ws://127.0.0.1:8000/ws/twilio/media/"


def test_twilio_retry_of_the_same_call_reuses_the_row(twilio_post, phone_number):
    # when Twilio sends the same CallSid twice
    first = twilio_post("/twilio/voice/", sample("voice"))
    second = twilio_post("/twilio/voice/", sample("voice"))
    # then there is one call, and both answers stream to it
    assert Call.objects.count() == 1
    call = Call.objects.get()
    for response in (first, second):
        stream = _twiml(response).find("./Connect/Stream")
        token = stream.find("Parameter").get("value")
        assert twilio.stream_token_verify(token).call_id == call.id


@pytest.mark.parametrize("dialled", ["+15550100999", ""])
def test_unknown_number_says_sorry_and_hangs_up(twilio_post, phone_number, dialled):
    # when a call reaches a number no tenant has
    response = twilio_post("/twilio/voice/", sample("voice", To=dialled))
    # then Twilio is told to apologise and hang up, and no call is recorded
    root = _twiml(response)
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert "sorry" in root.find("Say").text.lower()
    assert root.find("./Connect") is None
    assert not Call.objects.exists()


def test_a_draft_agent_does_not_take_calls_until_it_is_live(twilio_post, phone_number, agent):
    # given the number's agent switched back to draft
    agent.status = "draft"
    agent.save(update_fields=["status"])
    # when a call comes in, the caller hears a short notice and no stream or call row starts
    root = _twiml(twilio_post("/twilio/voice/", sample("voice")))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert "not taking calls" in root.find("Say").text
    assert not Call.objects.exists()
    # when the agent goes live, the same number connects
    agent.status = "live"
    agent.save(update_fields=["status"])
    root = _twiml(twilio_post("/twilio/voice/", sample("voice")))
    assert root.find("./Connect/Stream") is not None


def test_number_without_agent_says_sorry_and_hangs_up(twilio_post, tenant):
    phone_number_create(tenant=tenant, e164="+15550100000")
    root = _twiml(twilio_post("/twilio/voice/", sample("voice")))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert not Call.objects.exists()


def test_unknown_call_status_in_voice_webhook_is_stored_as_ringing(twilio_post, phone_number):
    twilio_post("/twilio/voice/", sample("voice", CallStatus="teleporting"))
    assert Call.objects.get().status == CallStatus.RINGING


@pytest.fixture
def shutting_down():
    from calls.consumers import draining

    draining.set()
    yield
    draining.clear()


def test_a_call_reaching_a_shutting_down_server_is_sent_back_through_the_load_balancer(
        twilio_post, phone_number, shutting_down):
    # when a call's webhook reaches a server that got SIGTERM
    first = _twiml(twilio_post("/twilio/voice/", sample("voice")))
    # then Twilio is told to wait a second and ask again (signed, like any webhook), and this
    # server started nothing
    assert [child.tag for child in first] == ["Pause", "Redirect"]
    redirect = first.find("Redirect")
    assert redirect.get("method") == "POST"
    assert redirect.text == f"{PUBLIC}/twilio/voice/?attempt=1"
    assert not Call.objects.exists()
    # and the redirected request (Twilio signs the URL with its query) is accepted
    again = _twiml(twilio_post("/twilio/voice/?attempt=1", sample("voice")))
    assert again.find("Redirect").text == f"{PUBLIC}/twilio/voice/?attempt=2"


def test_after_a_few_tries_the_caller_hears_the_lines_are_busy(twilio_post, phone_number,
                                                               shutting_down):
    root = _twiml(twilio_post("/twilio/voice/?attempt=3", sample("voice")))
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert "busy" in root.find("Say").text


def test_a_server_that_is_up_answers_the_redirected_call(twilio_post, phone_number):
    root = _twiml(twilio_post("/twilio/voice/?attempt=1", sample("voice")))
    assert [child.tag for child in root] == ["Connect"]
    assert Call.objects.count() == 1


def test_stream_token_expires_and_resists_tampering(settings, monkeypatch):
    # given a token issued now
    settings.STREAM_TOKEN_MAX_AGE_S = 120
    token = twilio.stream_token_issue(call_id=7, tenant_id=3)
    assert twilio.stream_token_verify(token) == twilio.StreamToken(call_id=7, tenant_id=3)
    # then a changed token, or a foreign secret, is refused
    assert twilio.stream_token_verify(token[:-2] + "xx") is None
    assert twilio.stream_token_verify("") is None
    settings.SECRET_KEY = "another-secret-key-" * 4
    assert twilio.stream_token_verify(token) is None
    # and after its lifetime it is refused too
    settings.SECRET_KEY = "placeholder"
    fresh = twilio.stream_token_issue(call_id=7, tenant_id=3)
    later = signing.time.time() + 121
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert twilio.stream_token_verify(fresh) is None


# --- call status --------------------------------------------------------------------------------


@pytest.fixture
def call(twilio_post, phone_number) -> Call:
    twilio_post("/twilio/voice/", sample("voice"))
    return Call.objects.get()


def test_status_callback_records_status_duration_and_end(twilio_post, call):
    # when the call goes in progress, then completes
    twilio_post("/twilio/status/", sample("status_completed", CallStatus="in-progress"))
    call.refresh_from_db()
    assert (call.status, call.ended_at) == ("in-progress", None)
    response = twilio_post("/twilio/status/", sample("status_completed"))
    # then
    assert response.status_code == 204
    call.refresh_from_db()
    assert call.status == "completed"
    assert call.duration_seconds == 42
    assert call.ended_at == datetime(2025, 11, 25, 12, 0, 42, tzinfo=UTC)


def test_status_callback_retry_changes_nothing(twilio_post, call):
    twilio_post("/twilio/status/", sample("status_completed"))
    call.refresh_from_db()
    before = (call.status, call.duration_seconds, call.ended_at, call.updated_at)
    twilio_post("/twilio/status/", sample("status_completed"))
    call.refresh_from_db()
    assert (call.status, call.duration_seconds, call.ended_at, call.updated_at) == before


@pytest.mark.parametrize("late", ["ringing", "in-progress", "queued", "failed", "busy"])
def test_a_finished_call_is_never_reopened_or_relabelled(twilio_post, call, late):
    # given a completed call
    twilio_post("/twilio/status/", sample("status_completed"))
    # when a late or out-of-order callback arrives
    twilio_post("/twilio/status/", sample("status_completed", CallStatus=late, CallDuration=""))
    # then it stays completed with its duration
    call.refresh_from_db()
    assert (call.status, call.duration_seconds) == ("completed", 42)


def test_status_never_moves_backwards_before_the_end(call):
    call_update_status(call=call, status="in-progress")
    call_update_status(call=call, status="ringing")
    call.refresh_from_db()
    assert call.status == "in-progress"


@pytest.mark.parametrize("params", [
    {"CallSid": "CA99999999999999999999999999999999"},  # a call we never saw
    {"CallStatus": "exploded"},  # not a status Twilio sends
    {"CallDuration": "forty"},
    {"CallDuration": "²"},  # a digit to str.isdigit, not to int()
    {"CallDuration": "9" * 5000},  # past Python's int() digit limit and any column
])
def test_odd_status_callbacks_are_acknowledged_and_harmless(twilio_post, call, params):
    response = twilio_post("/twilio/status/", sample("status_completed", **params))
    assert response.status_code == 204
    call.refresh_from_db()
    if "CallDuration" in params:  # the status is still applied, only the duration is unknown
        assert (call.status, call.duration_seconds) == ("completed", None)
    else:
        assert (call.status, call.ended_at) == ("ringing", None)


def test_failed_call_without_timestamp_ends_now(twilio_post, call):
    twilio_post("/twilio/status/", {"CallSid": call.call_sid, "CallStatus": "no-answer"})
    call.refresh_from_db()
    assert call.status == "no-answer"
    assert call.ended_at is not None
    assert call.duration_seconds is None


# --- stream status ------------------------------------------------------------------------------


def test_stream_status_is_recorded_once_per_event(twilio_post, call):
    # when Twilio reports the stream started (twice: a retry), then an error
    for _ in range(2):
        assert twilio_post("/twilio/stream-status/", sample("stream_started")).status_code == 204
    twilio_post("/twilio/stream-status/", sample("stream_error"))
    # then the call's timeline has one event each
    events = list(CallEvent.objects.filter(call=call).values_list("type", "payload"))
    assert events == [
        ("stream.stream-started", {"stream_sid": "MZ22222222222222222222222222222222",
                                   "error": ""}),
        ("stream.stream-error", {"stream_sid": "MZ22222222222222222222222222222222",
                                 "error": "Stream - WebSocket - Connection Broken Pipe"}),
    ]
    assert all(event.tenant_id == call.tenant_id for event in CallEvent.objects.all())


def test_stream_status_for_an_unknown_call_is_acknowledged(twilio_post, call):
    response = twilio_post("/twilio/stream-status/",
                           sample("stream_started", CallSid="CA" + "9" * 32))
    assert response.status_code == 204
    assert not CallEvent.objects.exists()
