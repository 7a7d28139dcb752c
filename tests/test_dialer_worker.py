"""The dialer on real Celery workers: a worker killed while it is dialling a campaign leaves
nobody dialled twice and nobody dropped; its replacement finishes the campaign."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from django.test import Client
from twilio.request_validator import RequestValidator

from agents.services import agent_create, phone_number_create
from agents.versions import agent_publish
from aybiza import celery_app
from calls.campaign_models import CampaignContact, ContactState
from calls.campaigns import campaign_create, campaign_import_csv, campaign_start
from calls.models import Call
from calls.outbound import PROVISIONAL_SID_PREFIX
from calls.tasks import dialer_tick
from tests.celery_worker import CeleryWorker, celery_worker
from tests.fakes.twilio_rest import FakeTwilioRest

pytestmark = [
    pytest.mark.integration, pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not django_settings.REDIS_URL,
                       reason="needs Redis (REDIS_URL): run through `make test`"),
]
PUBLIC = "https://voice.example.test"
TOKEN = "dialer-worker-token"
PEOPLE = [f"+155501004{i:02d}" for i in range(8)]
LEASE_S = 2


@pytest.fixture
def twilio(settings, monkeypatch) -> Iterator[FakeTwilioRest]:
    # Each create takes a while to answer: the worker is caught in the middle of one.
    with FakeTwilioRest(auth_token=TOKEN, place_calls=False, create_delay_s=0.4) as fake:
        settings.PUBLIC_BASE_URL = PUBLIC
        settings.TWILIO_AUTH_TOKEN = TOKEN
        settings.CELERY_TASK_ALWAYS_EAGER = False
        monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
        yield fake


@pytest.fixture
def worker(twilio) -> Iterator[CeleryWorker]:
    env = {"PUBLIC_BASE_URL": PUBLIC, "TWILIO_AUTH_TOKEN": TOKEN,
           "TWILIO_ACCOUNT_SID": twilio.account_sid, "TWILIO_API_BASE_URL": twilio.base_url,
           "OUTBOUND_DIAL_LEASE_S": str(LEASE_S), "CELERY_VISIBILITY_TIMEOUT_S": "5"}
    with celery_worker(env, concurrency=1) as started:
        yield started


def _campaign(tenant):
    agent = agent_create(tenant=tenant, name="Reminders")
    agent_publish(tenant=tenant, agent=agent, actor=None, note="v1")
    line = phone_number_create(tenant=tenant, e164="+15550100100", agent_id=agent.id)
    campaign = campaign_create(
        tenant=tenant, agent=agent, from_number=line, name="Reminders", legal_basis="contract",
        window_days=list(range(7)), window_start=datetime.time(0),
        window_end=datetime.time(23, 59), calls_per_second=50, max_concurrent=100)
    campaign_import_csv(tenant=tenant, campaign=campaign,
                        data="\n".join(["phone", *PEOPLE]).encode())
    campaign_start(tenant=tenant, campaign=campaign)
    return campaign


def _twilio_says_initiated(twilio: FakeTwilioRest) -> None:
    """What Twilio does for every call it created, whoever asked: `initiated`, signed."""
    client = Client()
    validator = RequestValidator(TOKEN)
    for sent in [r for r in twilio.requests if r.resource == "calls.create"]:
        sid = next(sid for sid, call in twilio.calls.items() if call["to"] == sent.value("To"))
        url = sent.value("StatusCallback")
        params = {"CallSid": sid, "CallStatus": "queued", "To": sent.value("To")}
        response = client.post(url.removeprefix(PUBLIC), urlencode(params),
                               content_type="application/x-www-form-urlencoded",
                               headers={"X-Twilio-Signature":
                                        validator.compute_signature(url, params)})
        assert response.status_code == 204


def _wait(predicate, timeout_s: float, what: str, worker: CeleryWorker) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached\n{worker.log()}")
        time.sleep(0.1)


def test_a_worker_killed_mid_campaign_dials_nobody_twice(tenant, twilio, worker):
    _campaign(tenant)
    # when a worker starts dialling the campaign and is killed after a few calls
    dialer_tick.delay()
    _wait(lambda: len(twilio.requests) >= 3, 30, "three dials", worker)
    worker.kill()
    dialled_before = len(twilio.requests)
    assert dialled_before < len(PEOPLE)
    _twilio_says_initiated(twilio)  # Twilio reports the calls it created, answered or not
    # and a replacement ticks (beat would, every few seconds) past the lease of lost claims
    worker.start()

    def everyone_dialled() -> bool:
        dialer_tick.delay()
        time.sleep(0.5)
        return not Call.objects.filter(call_sid__startswith=PROVISIONAL_SID_PREFIX).exists() \
            and Call.objects.count() == len(PEOPLE)

    _wait(everyone_dialled, 60, "every row dialled", worker)
    time.sleep(LEASE_S + 1)  # a lost claim would be released (and re-dialled) by now
    dialer_tick.delay()
    time.sleep(1.5)
    # then each person was dialled exactly once, and each row has its one call with Twilio's sid
    assert dict(twilio.dials) == {number: 1 for number in PEOPLE}, worker.log()
    assert set(Call.objects.values_list("call_sid", flat=True)) == set(twilio.calls)
    assert set(CampaignContact.objects.values_list("state", "attempts")) == {
        (ContactState.CALLING, 1)}
