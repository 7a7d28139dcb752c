"""Event webhooks at the wire: a local HTTP receiver gets signed events, failures are retried
with backoff and then given up, redelivery works, and the SSRF guard applies to every URL."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from aybiza.core.events import Event, EventType
from aybiza.core.models import DeliveryStatus, WebhookDelivery
from aybiza.core.webhooks import (
    MAX_ATTEMPTS,
    SIGNATURE_HEADER,
    deliveries_due,
    deliveries_for_event,
    delivery_attempt,
    verify_signature,
    webhook_create,
)
from tools.services import tool_network_allowlist_set

pytestmark = pytest.mark.django_db


class Receiver:
    """A tenant's endpoint on 127.0.0.1: records each request, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append((dict(self.headers), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/aybiza"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(tenant):
    tool_network_allowlist_set(tenant=tenant, entries=["127.0.0.1"])  # loopback, allowlisted
    server = Receiver()
    yield server
    server.close()


def completed(tenant, call_id: int = 7) -> Event:
    return Event(tenant_id=tenant.id, type=EventType.CALL_COMPLETED,
                 payload={"call_id": call_id, "outcome": "agent_ended"})


def test_an_event_is_delivered_signed_to_each_subscribed_endpoint(tenant, receiver):
    # given an endpoint for completed calls and one for tool runs only
    created = webhook_create(tenant=tenant, url=receiver.url, event_types=["call.completed"])
    webhook_create(tenant=tenant, url=receiver.url + "/tools", event_types=["tool.executed"])
    # when a call completes
    [delivery_id] = deliveries_for_event(completed(tenant))
    delivery = delivery_attempt(delivery_id=delivery_id)
    # then the first endpoint got it once, signed with its secret
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.last_status_code == 200
    [(headers, body)] = receiver.requests
    assert headers["X-Aybiza-Event"] == "call.completed"
    assert verify_signature(created.secret, body, headers[SIGNATURE_HEADER])
    assert not verify_signature("whsec_other", body, headers[SIGNATURE_HEADER])
    assert not verify_signature(created.secret, body + b" ", headers[SIGNATURE_HEADER])
    event = json.loads(body)
    assert event["type"] == "call.completed" and event["data"]["call_id"] == 7
    # and an old signature is refused (a replayed request)
    t = int(headers[SIGNATURE_HEADER].split(",")[0][2:])
    assert not verify_signature(created.secret, body, headers[SIGNATURE_HEADER], now=t + 3600)


def test_a_failing_endpoint_is_retried_with_backoff_then_given_up(tenant, receiver):
    webhook_create(tenant=tenant, url=receiver.url)
    receiver.status = 500
    [delivery_id] = deliveries_for_event(completed(tenant))
    first = delivery_attempt(delivery_id=delivery_id)
    assert first.status == DeliveryStatus.PENDING and first.last_error == "HTTP 500"
    assert first.next_attempt_at > timezone.now()
    assert deliveries_due() == []  # not yet due
    for attempt in range(2, MAX_ATTEMPTS + 1):
        assert deliveries_due(now=timezone.now() + timedelta(hours=2)) == [delivery_id]
        last = delivery_attempt(delivery_id=delivery_id)
        assert last.attempts == attempt
    assert last.status == DeliveryStatus.FAILED
    assert len(receiver.requests) == MAX_ATTEMPTS
    assert deliveries_due(now=timezone.now() + timedelta(days=1)) == []


def test_the_api_lists_deliveries_and_redelivers_failed_ones(tenant, receiver, api):
    created = api.post("/api/v1/webhooks/", {"url": receiver.url}, format="json")
    assert created.status_code == 201 and created.json()["secret"].startswith("whsec_")
    assert "secret" not in api.get(f"/api/v1/webhooks/{created.json()['id']}/").json()
    receiver.status = 503
    [delivery_id] = deliveries_for_event(completed(tenant))
    WebhookDelivery.objects.filter(pk=delivery_id).update(attempts=MAX_ATTEMPTS - 1)
    delivery_attempt(delivery_id=delivery_id)
    url = f"/api/v1/webhooks/{created.json()['id']}/"
    [row] = api.get(url + "deliveries/").json()["results"]
    assert row["status"] == "failed" and row["last_error"] == "HTTP 503"
    # when the tenant fixed their endpoint and asks for the failed ones again
    receiver.status = 204
    assert api.post(url + "redeliver/", {}, format="json").status_code == 202
    # then it arrived (the embedded default sends it at once)
    assert WebhookDelivery.objects.get(pk=delivery_id).status == DeliveryStatus.SUCCEEDED


@pytest.mark.parametrize("url, says", [
    ("http://127.0.0.1:9/x", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    ("https://localhost/x", "not a public host name"),
    ("https://db.internal/x", "not a public host name"),
    ("ftp://example.com/x", "http(s)"),
    ("https://user:pw@example.com/x", "No credentials"),
])
def test_internal_and_odd_urls_are_a_clear_400(api, url, says):
    response = api.post("/api/v1/webhooks/", {"url": url}, format="json")
    assert response.status_code == 400, response.content
    assert says in json.dumps(response.json())


def test_every_delivery_passes_the_ssrf_guard_again(tenant, receiver):
    # given an endpoint on this machine, allowed when it was saved
    webhook_create(tenant=tenant, url=receiver.url)
    # when the tenant's allowlist no longer lets it through (or its name now resolves inside)
    tool_network_allowlist_set(tenant=tenant, entries=[])
    [delivery_id] = deliveries_for_event(completed(tenant))
    delivery = delivery_attempt(delivery_id=delivery_id)
    # then nothing is sent, and the delivery says why
    assert delivery.status == DeliveryStatus.PENDING and "RequestRefused" in delivery.last_error
    assert receiver.requests == []


def test_unknown_event_types_are_refused(api):
    response = api.post("/api/v1/webhooks/", {"url": "https://hooks.example.com/x",
                                              "event_types": ["call.exploded"]}, format="json")
    assert response.status_code == 400 and "event_types" in json.dumps(response.json())


@pytest.mark.django_db(transaction=True)
def test_a_finished_call_reaches_the_endpoint_off_the_calls_path(tenant, receiver, phone_number):
    from aybiza.core.tasks import wait_for_in_process_webhooks
    from calls.services import call_finish, call_start

    created = webhook_create(tenant=tenant, url=receiver.url, event_types=["call.completed"])
    call = call_start(tenant=tenant, phone_number=phone_number, call_sid="CA" + "1" * 32,
                      from_number="+15557654321", to_number=phone_number.e164)
    call_finish(call=call, outcome="agent_ended")
    wait_for_in_process_webhooks()  # each fan-out sends its deliveries before it returns
    assert list(WebhookDelivery.objects.values_list("status", "last_error")) == [
        ("succeeded", "")]
    [(headers, body)] = receiver.requests
    assert verify_signature(created.secret, body, headers[SIGNATURE_HEADER])
    assert json.loads(body)["data"]["call_id"] == call.id


def test_the_readme_verification_snippet_accepts_our_signature_only():
    import re
    from pathlib import Path

    from django.conf import settings

    from aybiza.core.webhooks import sign

    readme = (Path(settings.BASE_DIR) / "README.md").read_text()
    snippet = re.search(r"```python\n(import hashlib.*?)```", readme, re.S).group(1)
    namespace: dict = {}
    exec(snippet, namespace)  # the documented code, as a tenant would paste it
    body = b'{"type":"call.completed"}'
    assert namespace["verified"]("whsec_a", body, sign("whsec_a", body))
    assert not namespace["verified"]("whsec_b", body, sign("whsec_a", body))
    assert not namespace["verified"]("whsec_a", body, sign("whsec_a", body, timestamp=1))
