"""Alert rules: validated at the API, evaluated over stored calls on a fake clock, firing and
resolving once each, notified by e-mail, Slack (a local receiver) and event webhooks."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from aybiza.core.events import EventType, subscribe, unsubscribe
from aybiza.core.tests.test_webhooks import Receiver
from calls.alerts import alert_rule_create, alerts_evaluate
from calls.models import AlertState, AlertTransition, Call, CallStatus, Role, Turn
from tools.services import tool_network_allowlist_set

pytestmark = pytest.mark.django_db
RULES = "/api/v1/alert-rules/"
T0 = timezone.now().replace(microsecond=0) - timedelta(days=1)


@pytest.fixture
def slack(tenant):
    tool_network_allowlist_set(tenant=tenant, entries=["127.0.0.1"])  # the test's own receiver
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def events():
    seen = []
    for kind in (EventType.ALERT_FIRING, EventType.ALERT_RESOLVED):
        subscribe(kind)(seen.append)
    yield seen
    unsubscribe(seen.append)


def answered(tenant, agent, *, at, latencies_ms, outcome="agent_ended", n=[0]):  # noqa: B006
    """A call that ended at `at`, whose agent answered with these voice-to-voice times."""
    n[0] += 1
    call = Call.objects.create(
        tenant=tenant, agent=agent, call_sid=f"CA{n[0]:032d}", from_number="+15557654321",
        to_number="+15550100000", status=CallStatus.COMPLETED, started_at=at - timedelta(
            seconds=30), ended_at=at, outcome=outcome, cost={"total_usd": 0.05})
    for index, latency in enumerate(latencies_ms):
        Turn.objects.create(tenant=tenant, call=call, index=index, role=Role.AGENT, text="Hi.",
                            first_frame_ms=latency, created_at=at)
    return call


def test_a_latency_rule_fires_once_and_resolves_once(tenant, agent, slack, events,
                                                     django_capture_on_commit_callbacks):
    # given a rule: p95 voice to voice above 800 ms over 5 minutes, with 3 answers at least
    rule = alert_rule_create(tenant=tenant, name="Slow answers", metric="latency_p95_ms",
                             threshold=800, window_minutes=5, min_samples=3,
                             email_to=["ops@example.com"], slack_webhook_url=slack.url)
    # when slow answers come in, and beat evaluates twice
    answered(tenant, agent, at=T0, latencies_ms=[1200, 1300, 1250])
    with django_capture_on_commit_callbacks(execute=True):
        assert alerts_evaluate(now=T0 + timedelta(minutes=1)) == 1
        assert alerts_evaluate(now=T0 + timedelta(minutes=2)) == 0  # still firing: no repeat
    rule.refresh_from_db()
    # then it fired once, to every channel
    assert rule.state == AlertState.FIRING and rule.last_value == 1300
    assert [m.subject for m in mail.outbox] == [
        "[AYBIZA] FIRING: Slow answers — p95 voice-to-voice latency (ms) is 1300 over the last "
        "5 min (3 samples), above 800."]
    assert len(slack.requests) == 1
    assert json.loads(slack.requests[0][1])["text"].startswith("FIRING: Slow answers")
    # when later answers are fast again
    answered(tenant, agent, at=T0 + timedelta(minutes=10), latencies_ms=[500, 520, 480])
    with django_capture_on_commit_callbacks(execute=True):
        assert alerts_evaluate(now=T0 + timedelta(minutes=11)) == 1
    rule.refresh_from_db()
    # then it resolved, once, and the history says what each notification did
    assert rule.state == AlertState.OK and rule.last_value == 520
    assert [m.subject.split(":")[0] for m in mail.outbox] == ["[AYBIZA] FIRING",
                                                              "[AYBIZA] RESOLVED"]
    assert len(slack.requests) == 2
    history = list(AlertTransition.objects.filter(rule=rule).order_by("at"))
    assert [(t.state, t.notified) for t in history] == [
        ("firing", {"email": "sent", "slack": "sent"}),
        ("ok", {"email": "sent", "slack": "sent"})]
    assert [(e.type, e.payload["value"]) for e in events] == [
        (EventType.ALERT_FIRING, 1300), (EventType.ALERT_RESOLVED, 520)]


def test_too_few_samples_do_not_fire(tenant, agent):
    rule = alert_rule_create(tenant=tenant, name="Slow", metric="latency_p95_ms",
                             threshold=800, min_samples=5)
    answered(tenant, agent, at=T0, latencies_ms=[3000, 3000])

    assert alerts_evaluate(now=T0 + timedelta(minutes=1)) == 0
    rule.refresh_from_db()
    assert rule.state == AlertState.OK and rule.last_samples == 2


@pytest.mark.parametrize(("metric", "threshold", "expected"), [
    ("error_rate_pct", 20, 50.0),  # one call of two ended in an error
    ("cost_per_call_usd", 0.01, 0.05),
])
def test_error_rate_and_cost_rules_read_ended_calls(tenant, agent, metric, threshold, expected):
    rule = alert_rule_create(tenant=tenant, name="r", metric=metric, threshold=threshold,
                             min_samples=2)
    answered(tenant, agent, at=T0, latencies_ms=[], outcome="error")
    answered(tenant, agent, at=T0, latencies_ms=[], outcome="caller_hung_up")

    assert alerts_evaluate(now=T0 + timedelta(minutes=1)) == 1
    rule.refresh_from_db()
    assert rule.state == AlertState.FIRING and rule.last_value == pytest.approx(expected)


def test_the_api_creates_lists_and_never_returns_the_slack_url(api, tenant, slack):
    created = api.post(RULES, {"name": "Errors", "metric": "error_rate_pct", "threshold": 5,
                               "email_to": ["ops@example.com"],
                               "slack_webhook_url": slack.url}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["slack_configured"] is True and "slack_webhook_url" not in body
    assert body["state"] == "ok" and body["window_minutes"] == 5
    assert slack.url not in api.get(RULES).content.decode()
    history = api.get(f"{RULES}{body['id']}/history/")
    assert history.status_code == 200 and history.json()["count"] == 0
    assert api.delete(f"{RULES}{body['id']}/").status_code == 204


@pytest.mark.parametrize(("payload", "field"), [
    ({"metric": "moon_phase"}, "metric"),
    ({"threshold": -1}, "threshold"),
    ({"threshold": 150}, "threshold"),  # a share above 100 %
    ({"email_to": ["not-an-address"]}, "email_to"),
    ({"window_minutes": 0}, "window_minutes"),
    ({"slack_webhook_url": "http://hooks.example.com/x"}, "slack_webhook_url"),  # plain http
    ({"slack_webhook_url": "https://metadata.internal/x"}, "slack_webhook_url"),
])
def test_bad_rules_get_a_clear_400_at_the_field(api, payload, field):
    response = api.post(RULES, {"name": "r", "metric": "error_rate_pct", "threshold": 5,
                                **payload}, format="json")
    assert response.status_code == 400, response.content
    assert field in json.dumps(response.json())


def test_another_tenants_rule_is_not_found(api, other_tenant):
    theirs = alert_rule_create(tenant=other_tenant, name="theirs", metric="error_rate_pct",
                               threshold=5)
    assert api.get(f"{RULES}{theirs.pk}/").status_code == 404
    assert api.delete(f"{RULES}{theirs.pk}/").status_code == 404
