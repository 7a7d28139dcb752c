"""Event webhooks: a tenant's HTTPS endpoints receive the event stream (`aybiza.core.events`).

Every event of the tenant's subscribed types becomes one `WebhookDelivery` per endpoint, sent
off the call's path (a Celery task; a background thread in the embedded default) through the
tools' SSRF guard with pinned connections and a hard deadline, and retried with backoff by the
beat job `core.retry_webhooks` until it succeeds or runs out of attempts.

What the endpoint receives: a POST with JSON
``{"id": <event id>, "type": "call.completed", "created_at": ..., "data": {...}}`` and headers
``X-Aybiza-Event``, ``X-Aybiza-Delivery`` and ``X-Aybiza-Signature: t=<unix>,v1=<hex>`` where
``v1 = HMAC-SHA256(secret, f"{t}.{body}")``. Verify it (and refuse a ``t`` older than a few
minutes) with ``verify_signature`` below, or its few lines in any language (README).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from aybiza.core.errors import ApplicationError
from aybiza.core.events import WEBHOOK_EVENT_TYPES, Event
from aybiza.core.models import DeliveryStatus, Tenant, WebhookDelivery, WebhookEndpoint
from aybiza.core.tenancy import ensure_owned
from compliance.crypto import decrypt_text_for_tenant, encrypt_text_for_tenant
from compliance.services import audit_record

SECRET_CONTEXT = "core.webhook-secret"
SIGNATURE_HEADER = "X-Aybiza-Signature"
TIMEOUT_S = 5.0
MAX_RESPONSE_BYTES = 64 * 1024
MAX_ATTEMPTS = 6
BACKOFF_S = (0, 30, 120, 600, 1800, 3600)  # before attempt 1..6: about 1.6 h in all
MAX_ENDPOINTS_PER_TENANT = 10
SIGNATURE_TOLERANCE_S = 300


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once


def sign(secret: str, body: bytes, *, timestamp: int | None = None) -> str:
    """The `X-Aybiza-Signature` header value for `body`."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify_signature(secret: str, body: bytes, header: str, *,
                     tolerance_s: int = SIGNATURE_TOLERANCE_S, now: float | None = None) -> bool:
    """What a receiver runs: the signature matches and is recent (a replay is refused)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > tolerance_s:
        return False
    expected = sign(secret, body, timestamp=t).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


# --- endpoints ----------------------------------------------------------------------------------
def _validated(tenant: Tenant, *, url: str | None = None,
               event_types: list[str] | None = None) -> dict[str, list[str]]:
    from tools.selectors import tool_network_allowlist
    from tools.ssrf import RequestRefused, check_url

    errors: dict[str, list[str]] = {}
    if url is not None:
        problem = url_problem(url)
        if problem is None and _is_ip_literal(url):
            try:  # an address is checked now; a name at every delivery (its DNS may change)
                check_url(url, tool_network_allowlist(tenant=tenant))
            except RequestRefused as exc:
                problem = str(exc)
        if problem:
            errors["url"] = [problem]
    if event_types is not None:
        known = {e.value for e in WEBHOOK_EVENT_TYPES}
        unknown = sorted(set(event_types) - known) if isinstance(event_types, list) else ["?"]
        if unknown:
            errors["event_types"] = [f"Unknown event types: {', '.join(unknown)}. "
                                     f"Known: {', '.join(sorted(known))}."]
    return errors


INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".lan", ".home.arpa")


def url_problem(url: str) -> str | None:
    """Why `url` cannot receive our notifications (None if it can): public http(s) hosts only;
    the SSRF guard checks the addresses again when sending."""
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return "Not a valid URL."
    if parsed.scheme not in ("http", "https") or not parsed.host:
        return "An http(s) URL with a host."
    if parsed.userinfo:
        return "No credentials in the URL: verify our signature instead."
    host = parsed.host.lower().rstrip(".")
    if host == "localhost" or host.endswith(INTERNAL_SUFFIXES) or "." not in host.strip("[]"):
        return f"{host} is not a public host name."
    return None


def _is_ip_literal(url: str) -> bool:
    import ipaddress

    import httpx

    try:
        ipaddress.ip_address(httpx.URL(url).host.strip("[]"))
    except ValueError:
        return False
    return True


def webhook_create(*, tenant: Tenant, url: str, event_types: list[str] | None = None,
                   description: str = "", actor=None) -> CreatedEndpoint:
    errors = _validated(tenant, url=url, event_types=event_types or [])
    if errors:
        raise ApplicationError("Invalid webhook.", extra={"fields": errors})
    if WebhookEndpoint.objects.filter(tenant=tenant).count() >= MAX_ENDPOINTS_PER_TENANT:
        raise ApplicationError(f"At most {MAX_ENDPOINTS_PER_TENANT} webhooks per tenant.")
    secret = "whsec_" + secrets.token_urlsafe(32)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            tenant=tenant, url=url, event_types=sorted(set(event_types or [])),
            description=description,
            secret_sealed=encrypt_text_for_tenant(tenant, secret, context=SECRET_CONTEXT))
        audit_record(action="webhook.created", tenant=tenant, target=endpoint, actor=actor)
    return CreatedEndpoint(endpoint=endpoint, secret=secret)


def webhook_update(*, tenant: Tenant, endpoint: WebhookEndpoint, actor=None,
                   **fields: Any) -> WebhookEndpoint:
    ensure_owned(tenant, endpoint)
    unknown = set(fields) - {"url", "event_types", "description", "is_active"}
    if unknown:
        raise ApplicationError(f"Unknown webhook fields: {', '.join(sorted(unknown))}.")
    errors = _validated(tenant, url=fields.get("url"), event_types=fields.get("event_types"))
    if errors:
        raise ApplicationError("Invalid webhook.", extra={"fields": errors})
    for name, value in fields.items():
        setattr(endpoint, name, sorted(set(value)) if name == "event_types" else value)
    with transaction.atomic():
        endpoint.save()
        audit_record(action="webhook.updated", tenant=tenant, target=endpoint, actor=actor,
                     payload={"fields": sorted(fields)})
    return endpoint


def webhook_delete(*, tenant: Tenant, endpoint: WebhookEndpoint, actor=None) -> None:
    ensure_owned(tenant, endpoint)
    with transaction.atomic():
        audit_record(action="webhook.deleted", tenant=tenant, target=endpoint, actor=actor)
        endpoint.delete()


# --- deliveries ---------------------------------------------------------------------------------
def deliveries_for_event(event: Event) -> list[int]:
    """A pending delivery for each of the tenant's active endpoints subscribed to the event."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(tenant_id=event.tenant_id,
                                                           is_active=True)
                 if not e.event_types or event.type.value in e.event_types]
    if not endpoints:
        return []
    event_id = uuid.uuid4()
    now = timezone.now()
    rows = WebhookDelivery.objects.bulk_create([
        WebhookDelivery(tenant_id=event.tenant_id, endpoint=endpoint, event_id=event_id,
                        event_type=event.type.value, next_attempt_at=now,
                        payload={"created_at": event.at, "data": event.payload})
        for endpoint in endpoints])
    return [row.pk for row in rows]


def delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """Send one delivery once (if still pending and due); record the outcome and, on failure,
    when to try again. Never raises for the endpoint's faults."""
    from tools.executor.transport import fetch
    from tools.selectors import tool_network_allowlist

    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(skip_locked=True)
                    .select_related("endpoint", "tenant")
                    .filter(pk=delivery_id, status=DeliveryStatus.PENDING).first())
        if delivery is None:
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = None  # claimed: a concurrent retry pass skips it
        delivery.save(update_fields=["attempts", "next_attempt_at", "updated_at"])
    endpoint, tenant = delivery.endpoint, delivery.tenant
    body = json.dumps({"id": str(delivery.event_id), "type": delivery.event_type,
                       "created_at": delivery.payload.get("created_at"),
                       "data": delivery.payload.get("data", {})},
                      separators=(",", ":")).encode()
    secret = decrypt_text_for_tenant(tenant, endpoint.secret_sealed, context=SECRET_CONTEXT)
    headers = {"Content-Type": "application/json", "User-Agent": "AYBIZA-Webhooks/1",
               "X-Aybiza-Event": delivery.event_type, "X-Aybiza-Delivery": str(delivery.pk),
               SIGNATURE_HEADER: sign(secret, body)}
    status_code, error = None, ""
    try:
        reply = fetch(method="POST", url=endpoint.url, headers=headers, auth_headers={},
                      body=body, allowlist=tool_network_allowlist(tenant=tenant),
                      timeout_s=TIMEOUT_S, max_bytes=MAX_RESPONSE_BYTES)
        status_code = reply.status
        if not 200 <= reply.status < 300:
            error = f"HTTP {reply.status}"
    except Exception as exc:  # noqa: BLE001 - refused, timed out, reset: all retried the same
        error = f"{type(exc).__name__}: {exc}"[:300]
    return _record(delivery, status_code=status_code, error=error)


def _record(delivery: WebhookDelivery, *, status_code: int | None,
            error: str) -> WebhookDelivery:
    delivery.last_status_code = status_code
    delivery.last_error = error
    now = timezone.now()
    if not error:
        delivery.status, delivery.delivered_at = DeliveryStatus.SUCCEEDED, now
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
    else:
        delivery.next_attempt_at = now + timedelta(seconds=BACKOFF_S[delivery.attempts])
    delivery.save(update_fields=["status", "delivered_at", "last_status_code", "last_error",
                                 "next_attempt_at", "updated_at"])
    return delivery


def deliveries_due(*, now=None, limit: int = 500) -> list[int]:
    """Pending deliveries whose next attempt is due (the retry job sends them)."""
    return list(WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now or timezone.now())
        .order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def delivery_redeliver(*, tenant: Tenant, delivery: WebhookDelivery, actor=None) -> None:
    """Send a delivery again (a failed one, or to check a fixed endpoint): a fresh attempt
    budget, due now."""
    ensure_owned(tenant, delivery)
    delivery.status, delivery.attempts = DeliveryStatus.PENDING, 0
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    audit_record(action="webhook.redelivered", tenant=tenant, target=delivery, actor=actor)
