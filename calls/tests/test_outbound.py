"""Outbound calls: queued by the API, dialled once through Twilio's REST API (a wire-level fake
with the real twilio SDK), followed by signed callbacks, machine detection reaching the call."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock
from urllib.parse import urlencode

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone
from twilio.request_validator import RequestValidator

from agents.services import agent_create, phone_number_create
from agents.versions import agent_publish
from calls.dialer import dialer_tick
from calls.models import Call, CallEvent, CallStatus
from calls.outbound import outbound_dial, outbound_token
from memory.services import contact_do_not_call_set

PUBLIC = "https://voice.example.test"
CALLEE = "+15550100777"


@pytest.fixture
def twilio(fake_twilio_rest, settings):
    """Twilio's REST API, recording only: the tests play its callbacks themselves."""
    fake_twilio_rest.place_calls = False
    settings.PUBLIC_BASE_URL = PUBLIC
    return fake_twilio_rest


@pytest.fixture
def line(tenant):
    agent = agent_create(tenant=tenant, name="Reminders", greeting="Hello!",
                         outbound_greeting="Hi {{name}}, this is Acme Dental.",
                         voicemail_message="Hi {{name}}, please call us back.")
    agent_publish(tenant=tenant, agent=agent, actor=None, note="v1")
    return phone_number_create(tenant=tenant, e164="+15550100100", agent_id=agent.id)


def _place(api, line, **extra):
    return api.post("/api/v1/calls/", {"agent": line.agent_id, "to": CALLEE, **extra},
                    format="json")


def _signed_post(client, url: str, params: dict[str, str], token: str):
    path = url.removeprefix(PUBLIC)
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(path, urlencode(params), content_type="application/x-www-form-urlencoded",
                       headers={"X-Twilio-Signature": signature})


def test_an_api_call_is_queued_then_dialled_once_with_machine_detection(api, line, twilio):
    # given a call placed through the API
    response = _place(api, line, variables={"name": "Ana"})
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "queued"
    assert response.json()["direction"] == "outbound"
    call = Call.objects.get(pk=response.json()["id"])
    # when the dialer ticks (twice: the second finds nothing to do)
    assert dialer_tick(budget_s=1)["dialled"] == 1
    assert dialer_tick(budget_s=1)["dialled"] == 0
    # then Twilio got exactly one create, with our signed URLs and async AMD
    creates = [r for r in twilio.requests if r.resource == "calls.create"]
    assert len(creates) == 1
    sent = creates[0]
    assert sent.authorized
    assert sent.value("To") == CALLEE and sent.value("From") == "+15550100100"
    assert sent.value("Url").startswith(f"{PUBLIC}/twilio/outbound/voice/?call=")
    assert sent.value("StatusCallback").startswith(f"{PUBLIC}/twilio/outbound/status/?call=")
    assert sent.form["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert sent.value("MachineDetection") == "DetectMessageEnd"
    assert sent.value("AsyncAmd") == "true"
    assert sent.value("AsyncAmdStatusCallback").startswith(f"{PUBLIC}/twilio/outbound/amd/")
    assert sent.value("Timeout") == "30"
    # and the call carries Twilio's sid from then on; its variables are sealed
    call.refresh_from_db()
    assert call.call_sid in twilio.calls
    assert "Ana" not in call.variables_sealed


@pytest.mark.parametrize(("body", "field"), [
    ({"to": "banana"}, "to"),
    ({"to": "+1555"}, "to"),
    ({"variables": {"Bad Name": "x"}}, "variables"),
    ({"variables": {"name": "x" * 300}}, "variables"),
])
def test_bad_requests_are_400_and_queue_nothing(api, line, twilio, body, field):
    response = api.post("/api/v1/calls/", {"agent": line.agent_id, "to": CALLEE, **body},
                        format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Call.objects.exists()


def test_a_draft_agent_places_no_call(api, tenant, twilio):
    agent = agent_create(tenant=tenant, name="Draft")
    phone_number_create(tenant=tenant, e164="+15550100101", agent_id=agent.id)
    response = api.post("/api/v1/calls/", {"agent": agent.id, "to": CALLEE}, format="json")
    assert response.status_code == 400
    assert "agent" in response.json()["error"]["fields"]


def test_another_tenants_number_cannot_be_the_caller_id(api, line, other_tenant, twilio):
    foreign = phone_number_create(tenant=other_tenant, e164="+15550100199")
    response = _place(api, line, from_number=foreign.id)
    assert response.status_code == 404
    assert not Call.objects.exists()


def test_a_number_on_the_do_not_call_list_is_never_dialled(api, tenant, line, twilio):
    # given a call queued, and the number put on the list before the dialer runs
    assert _place(api, line).status_code == 201
    contact_do_not_call_set(tenant=tenant, e164=CALLEE, do_not_call=True)
    # when the dialer ticks
    dialer_tick(budget_s=1)
    # then nothing was sent to Twilio and the call failed, saying why
    assert not [r for r in twilio.requests if r.resource == "calls.create"]
    call = Call.objects.get()
    assert call.status == CallStatus.FAILED
    assert "do-not-call" in CallEvent.objects.get(call=call, type="outbound.refused")\
        .payload["reason"]


def test_twilio_refusing_the_number_fails_the_call_with_its_message(api, line, twilio):
    twilio.fail_next(400, 21211, "The 'To' number +15550100777 is not a valid phone number.")
    _place(api, line)
    dialer_tick(budget_s=1)
    call = Call.objects.get()
    assert call.status == CallStatus.FAILED
    refused = CallEvent.objects.get(call=call, type="outbound.refused").payload
    assert "not a valid phone number" in refused["reason"] and refused["code"] == 21211


def test_a_throttled_dial_is_tried_again_by_the_next_tick(api, line, twilio):
    twilio.fail_next(429, 20429, "Too Many Requests")
    _place(api, line)
    dialer_tick(budget_s=1)
    assert Call.objects.get().status == CallStatus.QUEUED
    dialer_tick(budget_s=1)
    creates = [r for r in twilio.requests if r.resource == "calls.create"]
    assert len(creates) == 2
    assert Call.objects.get().call_sid in twilio.calls


def test_a_dialer_that_died_before_twilio_is_replaced_after_the_lease(api, line, twilio,
                                                                      settings):
    # given a dialer that claimed the call and died before its request left
    _place(api, line)
    call = Call.objects.get()
    with mock.patch("calls.outbound.twilio.rest_client", side_effect=SystemExit), \
            pytest.raises(SystemExit):
        outbound_dial(call)
    assert not twilio.requests
    # when ticks run within the lease, nothing is dialled; after it, the call is dialled once
    dialer_tick(budget_s=1)
    assert not twilio.requests
    later = timezone.now() + timedelta(seconds=settings.OUTBOUND_DIAL_LEASE_S + 1)
    assert dialer_tick(now=later, budget_s=1)["released"] == 1
    assert len([r for r in twilio.requests if r.resource == "calls.create"]) == 1


def test_a_dial_whose_answer_was_lost_is_not_dialled_twice(api, client, line, twilio,
                                                           settings):
    # given Twilio created the call but the dialer never saw the answer (a cut connection)
    _place(api, line)
    call = Call.objects.get()
    with mock.patch("calls.outbound.outbound_bind_sid"):
        outbound_dial(call)
    sent = twilio.last("calls.create")
    sid = next(iter(twilio.calls))
    # when Twilio's `initiated` callback arrives, it names the call
    response = _signed_post(client, sent.value("StatusCallback"),
                            {"CallSid": sid, "CallStatus": "queued"}, twilio.auth_token)
    assert response.status_code == 204
    # then the lease passing releases nothing: it is not dialled again
    later = timezone.now() + timedelta(seconds=settings.OUTBOUND_DIAL_LEASE_S + 1)
    assert dialer_tick(now=later, budget_s=1)["released"] == 0
    assert len([r for r in twilio.requests if r.resource == "calls.create"]) == 1
    assert Call.objects.get().call_sid == sid


def test_callbacks_follow_the_call_and_answer_with_a_media_stream(api, client, line, twilio):
    _place(api, line)
    dialer_tick(budget_s=1)
    sent = twilio.last("calls.create")
    call = Call.objects.get()
    for status in ("queued", "ringing", "in-progress"):
        assert _signed_post(client, sent.value("StatusCallback"),
                            {"CallSid": call.call_sid, "CallStatus": status},
                            twilio.auth_token).status_code == 204
    # the answer: TwiML that opens the media stream to the agent
    response = _signed_post(client, sent.value("Url"),
                            {"CallSid": call.call_sid, "CallStatus": "in-progress",
                             "Direction": "outbound-api"}, twilio.auth_token)
    assert b"<Connect><Stream" in response.content
    assert Call.objects.get().status == CallStatus.IN_PROGRESS
    _signed_post(client, sent.value("StatusCallback"),
                 {"CallSid": call.call_sid, "CallStatus": "completed", "CallDuration": "42"},
                 twilio.auth_token)
    call.refresh_from_db()
    assert call.status == CallStatus.COMPLETED and call.duration_seconds == 42


def test_forged_or_foreign_callbacks_change_nothing(api, client, line, twilio):
    _place(api, line)
    dialer_tick(budget_s=1)
    sent = twilio.last("calls.create")
    call = Call.objects.get()
    # a bad signature
    path = sent.value("StatusCallback").removeprefix(PUBLIC)
    response = client.post(path, urlencode({"CallSid": call.call_sid, "CallStatus": "busy"}),
                           content_type="application/x-www-form-urlencoded",
                           headers={"X-Twilio-Signature": "forged"})
    assert response.status_code == 403
    # a signed request with a token we never issued
    bogus = f"{PUBLIC}/twilio/outbound/status/?call=" + outbound_token(call.id) + "x"
    assert _signed_post(client, bogus, {"CallSid": call.call_sid, "CallStatus": "busy"},
                        twilio.auth_token).status_code == 204
    assert Call.objects.get().status == CallStatus.QUEUED


def test_a_machine_result_reaches_the_live_call(api, client, line, twilio, settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    _place(api, line)
    dialer_tick(budget_s=1)
    sent = twilio.last("calls.create")
    call = Call.objects.get()
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(f"call.{call.id}", channel)
    # when Twilio's async AMD says a machine answered and its greeting ended
    response = _signed_post(client, sent.value("AsyncAmdStatusCallback"),
                            {"CallSid": call.call_sid, "AnsweredBy": "machine_end_beep",
                             "MachineDetectionDuration": "4100"}, twilio.auth_token)
    assert response.status_code == 204
    # then the call's consumer is told, and the row keeps it
    message = async_to_sync(layer.receive)(channel)
    assert message == {"type": "call.answered_by", "answered_by": "machine_end_beep"}
    assert Call.objects.get().answered_by == "machine_end_beep"


def test_a_queued_call_has_its_own_opening_made_before_it_is_answered(
        api, line, twilio, settings, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from calls.realtime.loader import load_stream
    from calls.realtime.opening_audio import cached_opening, clauses_of
    from calls.twilio import StreamToken

    settings.OPENING_AUDIO_PREPARE = True
    cache.clear()
    # given a call queued for Ana
    with django_capture_on_commit_callbacks(execute=True):
        call = Call.objects.get(pk=_place(api, line, variables={"name": "Ana"}).json()["id"])
    # then her greeting and voicemail message are synthesised before anyone answers
    agent = line.agent
    key = {"provider": agent.tts_provider, "voice": agent.voice, "language": agent.language}
    own = ["Hi Ana, this is Acme Dental.", "Hi Ana, please call us back."]
    assert set(cached_opening(**key, lines=own)) == set(clauses_of(own))
    # and when she answers, the call opens with that audio
    dialer_tick(budget_s=1)
    call.refresh_from_db()
    stream = load_stream(token=StreamToken(call_id=call.id, tenant_id=call.tenant_id),
                         call_sid=call.call_sid, stream_sid=f"MZ{call.id:032d}")
    assert set(clauses_of(own)) <= set(stream.config.opening_audio)
    assert stream.config.voicemail_message == "Hi Ana, please call us back."
    assert stream.config.awaiting_machine_verdict  # its replies wait for detection's verdict
    cache.clear()


def test_a_paid_voice_makes_the_greeting_ahead_but_not_a_message_few_calls_leave(
        api, line, twilio, settings, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from agents.services import agent_update
    from calls.realtime.opening_audio import cached_opening
    from calls.tests.session_harness import WordTTS

    settings.OPENING_AUDIO_PREPARE = True
    cache.clear()
    agent_update(tenant=line.tenant, agent=line.agent, tts_provider="deepgram")
    agent_publish(tenant=line.tenant, agent=line.agent, actor=None, note="paid voice")
    tts = WordTTS()
    with mock.patch("calls.realtime.agent_providers.tts_for_agent", return_value=tts), \
            django_capture_on_commit_callbacks(execute=True):
        _place(api, line, variables={"name": "Ana"})
    key = {"provider": "deepgram", "voice": line.agent.voice, "language": line.agent.language}
    assert cached_opening(**key, lines=["Hi Ana, this is Acme Dental."])
    assert not cached_opening(**key, lines=["Hi Ana, please call us back."])
    assert tts.spoken and not any("call us back" in clause for clause in tts.spoken)
    cache.clear()
