"""Alert rules: a tenant's thresholds on recent calls (p95 voice-to-voice latency, error rate,
cost per call, tool failures), evaluated by beat each minute (`calls.evaluate_alerts`).

A rule fires when its metric over the window is above the threshold with enough samples to
judge by, and resolves when it is not (a quiet window resolves it: nothing is going wrong). Only
changes of state are notified — once each, however many evaluations see the same state — to the
tenant's event webhooks (`alert.firing` / `alert.resolved`, signed and retried), to the rule's
e-mail recipients and to its Slack incoming webhook. Browser test calls and dry runs are not
counted: they are members trying things, not callers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from aybiza.core.errors import ApplicationError
from aybiza.core.events import EventType, publish_event
from aybiza.core.models import Tenant
from aybiza.core.tenancy import ensure_owned
from aybiza.core.webhooks import url_problem
from calls.dashboard import percentile
from calls.models import (
    ERROR_OUTCOMES,
    TEST_DIRECTIONS,
    AlertMetric,
    AlertRule,
    AlertState,
    AlertTransition,
    Call,
    Role,
    Turn,
)
from compliance.crypto import decrypt_text_for_tenant, encrypt_text_for_tenant
from compliance.services import audit_record

LATENCY_SAMPLE_LIMIT = 5000  # the latest agent turns of the window: enough for a p95
MAX_RULES_PER_TENANT = 50
MAX_EMAIL_RECIPIENTS = 10
SLACK_TIMEOUT_S = 5.0
_SLACK_CONTEXT = "alert-slack-webhook"
EDITABLE = ("name", "metric", "threshold", "window_minutes", "min_samples", "enabled",
            "email_to")


# --- rules -------------------------------------------------------------------------------------


def alert_rule_create(*, tenant: Tenant, actor=None, slack_webhook_url: str = "",
                      **fields: Any) -> AlertRule:
    if AlertRule.objects.filter(tenant=tenant).count() >= MAX_RULES_PER_TENANT:
        raise ApplicationError(f"A team may have at most {MAX_RULES_PER_TENANT} alert rules.")
    rule = AlertRule(tenant=tenant)
    _apply(rule, fields, slack_webhook_url)
    rule.save()
    audit_record(action="alert_rule.created", tenant=tenant, target=rule, actor=actor)
    return rule


def alert_rule_update(*, tenant: Tenant, rule: AlertRule, actor=None,
                      slack_webhook_url: str | None = None, **fields: Any) -> AlertRule:
    ensure_owned(tenant, rule)
    _apply(rule, fields, slack_webhook_url)
    rule.save()
    audit_record(action="alert_rule.updated", tenant=tenant, target=rule, actor=actor)
    return rule


def alert_rule_delete(*, tenant: Tenant, rule: AlertRule, actor=None) -> None:
    ensure_owned(tenant, rule)
    audit_record(action="alert_rule.deleted", tenant=tenant, target=rule, actor=actor)
    rule.delete()


def _apply(rule: AlertRule, fields: dict[str, Any], slack_webhook_url: str | None) -> None:
    """Set the given fields after checking every one; a clear error per field otherwise."""
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ApplicationError(f"Unknown fields: {', '.join(sorted(unknown))}.")
    for name, value in fields.items():
        setattr(rule, name, value)
    errors = _problems(rule)
    if slack_webhook_url:
        problem = url_problem(slack_webhook_url)
        if (problem is None and not slack_webhook_url.startswith("https://")
                and not _on_allowlist(rule.tenant, slack_webhook_url)):
            problem = ("An https:// URL (Slack's incoming webhooks are https; plain http only "
                       "to a host on the team's tool network allowlist).")
        if problem:
            errors["slack_webhook_url"] = [problem]
    if errors:
        raise ApplicationError("Invalid alert rule.", extra={"fields": errors})
    if slack_webhook_url is not None:  # "" removes it
        rule.slack_webhook_sealed = (encrypt_text_for_tenant(
            rule.tenant, slack_webhook_url, context=_SLACK_CONTEXT) if slack_webhook_url else "")


def _on_allowlist(tenant: Tenant, url: str) -> bool:
    """Whether staff opened `url`'s host to this team (an internal chat server, a test
    receiver): the same allowlist the tools' SSRF guard reads."""
    import ipaddress

    import httpx

    from tools.selectors import tool_network_allowlist

    allowlist = tool_network_allowlist(tenant=tenant)
    parsed = httpx.URL(url)
    host = parsed.host.strip("[]")
    if allowlist.allows_host(host) or allowlist.allows_endpoint(host, parsed.port or 80):
        return True
    try:
        return allowlist.network_for(ipaddress.ip_address(host)) is not None
    except ValueError:
        return False


def _problems(rule: AlertRule) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not isinstance(rule.name, str) or not rule.name.strip() or len(rule.name) > 120:
        errors["name"] = ["A name of 1 to 120 characters."]
    if rule.metric not in AlertMetric.values:
        errors["metric"] = [f"One of: {', '.join(AlertMetric.values)}."]
    ceiling = 100 if str(rule.metric).endswith("_pct") else 1e6
    if (isinstance(rule.threshold, bool) or not isinstance(rule.threshold, int | float)
            or not math.isfinite(rule.threshold) or not 0 <= rule.threshold <= ceiling):
        errors["threshold"] = [f"A number from 0 to {ceiling:g}."]
    for name, low, high in (("window_minutes", 1, 1440), ("min_samples", 1, 1000)):
        value = getattr(rule, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[name] = [f"A whole number from {low} to {high}."]
    if not isinstance(rule.enabled, bool):
        errors["enabled"] = ["true or false."]
    emails = rule.email_to
    if not isinstance(emails, list) or len(emails) > MAX_EMAIL_RECIPIENTS:
        errors["email_to"] = [f"A list of at most {MAX_EMAIL_RECIPIENTS} e-mail addresses."]
    else:
        for address in emails:
            try:
                validate_email(address)
            except (ValidationError, TypeError):
                errors["email_to"] = [f"Not an e-mail address: {str(address)[:80]!r}."]
                break
    return errors


def slack_configured(rule: AlertRule) -> bool:
    return bool(rule.slack_webhook_sealed)


# --- evaluation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    value: float | None  # None: nothing in the window to measure
    samples: int


def alert_reading(rule: AlertRule, *, now: datetime) -> Reading:
    """The rule's metric over its window ending at `now`."""
    since = now - timedelta(minutes=rule.window_minutes)
    if rule.metric == AlertMetric.LATENCY_P95_MS:
        values = list(Turn.objects.filter(
            tenant_id=rule.tenant_id, role=Role.AGENT, first_frame_ms__isnull=False,
            created_at__gt=since, created_at__lte=now,
        ).exclude(call__direction__in=TEST_DIRECTIONS).order_by("-id")
            .values_list("first_frame_ms", flat=True)[:LATENCY_SAMPLE_LIMIT])
        p95 = percentile(values, 0.95)
        return Reading(None if p95 is None else float(p95), len(values))
    if rule.metric == AlertMetric.TOOL_FAILURE_RATE_PCT:
        from tools.models import ExecutionStatus, ToolExecution

        counts = ToolExecution.objects.filter(
            tenant_id=rule.tenant_id, dry_run=False, finished_at__gt=since, finished_at__lte=now,
        ).aggregate(runs=Count("id"), failed=Count(
            "id", filter=~Q(status=ExecutionStatus.SUCCEEDED)))
        return _share(counts["failed"], counts["runs"])
    ended = Call.objects.filter(tenant_id=rule.tenant_id, ended_at__gt=since,
                                ended_at__lte=now).exclude(direction__in=TEST_DIRECTIONS)
    if rule.metric == AlertMetric.ERROR_RATE_PCT:
        counts = ended.aggregate(calls=Count("id"),
                                 errors=Count("id", filter=Q(outcome__in=ERROR_OUTCOMES)))
        return _share(counts["errors"], counts["calls"])
    costs = [cost.get("total_usd") for cost in ended.values_list("cost", flat=True)[:10_000]]
    costs = [float(c) for c in costs if isinstance(c, int | float)]
    return Reading(sum(costs) / len(costs) if costs else None, len(costs))


def _share(part: int, whole: int) -> Reading:
    return Reading(100.0 * part / whole if whole else None, whole)


def alerts_evaluate(*, now: datetime | None = None) -> int:
    """Evaluate every enabled rule; returns how many changed state (each notified once)."""
    now = now or timezone.now()
    changed = 0
    for rule_id in AlertRule.objects.filter(enabled=True).values_list("id", flat=True):
        transition = _evaluate(rule_id, now)
        if transition is not None:
            _notify(transition)
            changed += 1
    return changed


def _evaluate(rule_id: int, now: datetime) -> AlertTransition | None:
    with transaction.atomic():
        # Locked: two evaluations at once (a slow one overlapping the next minute's) notify once.
        rule = (AlertRule.objects.select_for_update(skip_locked=True).select_related("tenant")
                .filter(pk=rule_id, enabled=True).first())
        if rule is None:
            return None
        reading = alert_reading(rule, now=now)
        breached = (reading.value is not None and reading.samples >= rule.min_samples
                    and reading.value > rule.threshold)
        state = AlertState.FIRING if breached else AlertState.OK
        rule.last_value, rule.last_samples, rule.last_evaluated_at = (
            reading.value, reading.samples, now)
        fields = ["last_value", "last_samples", "last_evaluated_at", "updated_at"]
        transition = None
        if state != rule.state:
            rule.state, rule.state_since = state, now
            fields += ["state", "state_since"]
            transition = AlertTransition.objects.create(
                tenant_id=rule.tenant_id, rule=rule, state=state, value=reading.value,
                samples=reading.samples, at=now)
        rule.save(update_fields=fields)
        if transition is not None:
            publish_event(tenant=rule.tenant_id,
                          type=EventType.ALERT_FIRING if breached else EventType.ALERT_RESOLVED,
                          payload=_payload(rule, transition))
    return transition


def _payload(rule: AlertRule, transition: AlertTransition) -> dict[str, Any]:
    return {"rule_id": rule.pk, "name": rule.name, "metric": rule.metric,
            "threshold": rule.threshold, "window_minutes": rule.window_minutes,
            "state": transition.state, "value": transition.value,
            "samples": transition.samples, "at": transition.at.isoformat()}


def alert_message(rule: AlertRule, transition: AlertTransition) -> str:
    """One line a person reads in e-mail or Slack."""
    label = AlertMetric(rule.metric).label
    value = "no data" if transition.value is None else f"{transition.value:.4g}"
    if transition.state == AlertState.FIRING:
        return (f"FIRING: {rule.name} — {label} is {value} over the last {rule.window_minutes} "
                f"min ({transition.samples} samples), above {rule.threshold:g}.")
    return (f"RESOLVED: {rule.name} — {label} is {value} over the last "
            f"{rule.window_minutes} min, within {rule.threshold:g}.")


def _notify(transition: AlertTransition) -> None:
    """E-mail and Slack, each recorded on the transition; a failing channel never stops the
    others (event webhooks were queued with the state change)."""
    rule = transition.rule
    text = alert_message(rule, transition)
    results: dict[str, str] = {}
    if rule.email_to:
        try:
            send_mail(subject=f"[AYBIZA] {text[:150]}", message=text, from_email=None,
                      recipient_list=list(rule.email_to))
            results["email"] = "sent"
        except Exception as exc:  # noqa: BLE001 - recorded, the next channel still goes
            results["email"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    if rule.slack_webhook_sealed:
        results["slack"] = _post_to_slack(rule, text)
    transition.notified = results
    transition.save(update_fields=["notified", "updated_at"])


def _post_to_slack(rule: AlertRule, text: str) -> str:
    from tools.executor.transport import fetch
    from tools.selectors import tool_network_allowlist

    url = decrypt_text_for_tenant(rule.tenant, rule.slack_webhook_sealed, context=_SLACK_CONTEXT)
    try:
        reply = fetch(method="POST", url=url, headers={"Content-Type": "application/json"},
                      auth_headers={}, body=json.dumps({"text": text}).encode(),
                      allowlist=tool_network_allowlist(tenant=rule.tenant),
                      timeout_s=SLACK_TIMEOUT_S, max_bytes=64 * 1024)
    except Exception as exc:  # noqa: BLE001 - refused, timed out: recorded as such
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return "sent" if 200 <= reply.status < 300 else f"HTTP {reply.status}"
