"""Appending to the audit log: one hash chain per tenant, plus the platform's chain."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from aybiza.core.errors import ApplicationError
from aybiza.core.models import ApiKey, Tenant
from compliance.chain import GENESIS_HASH, canonical_json, event_hash
from compliance.models import AuditChainHead, AuditEvent, chain_for

logger = logging.getLogger(__name__)

# A flood of rejected webhooks must not become a flood of rows serialised on one chain lock:
# one row per kind and detail per window, carrying the count of the ones it stands for.
SECURITY_EVENT_WINDOW_S = 10
_SUPPRESSED_TTL_S = 24 * 3600


def describe_actor(actor: Any) -> str:
    """`user:<id>:<username>`, `api-key:<prefix>`, a given label, or `system`."""
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor[:160]
    if isinstance(actor, ApiKey):
        return f"api-key:{actor.prefix}"
    api_key = getattr(actor, "api_key", None)  # the API's ApiKeyPrincipal
    if isinstance(api_key, ApiKey):
        return f"api-key:{api_key.prefix}"
    if getattr(actor, "pk", None) is not None:
        return f"user:{actor.pk}:{actor.get_username()}"[:160]
    return "anonymous"


def describe_target(target: models.Model | None) -> tuple[str, str, str]:
    """(type, id, label) of the object acted on; the label never comes from `str()` (PII)."""
    if target is None:
        return "", "", ""
    meta = target._meta
    label = getattr(target, "audit_label", "") or f"{meta.object_name} {target.pk}"
    return meta.label_lower, str(target.pk), str(label)[:200]


def audit_record(
    *, tenant: Tenant | None, action: str, target: models.Model | None = None,
    actor: Any = None, payload: dict[str, Any] | None = None, at: datetime | None = None,
) -> AuditEvent:
    """Append an event to the tenant's chain (the platform chain when `tenant` is None).

    Runs in the caller's transaction: the row exists only if the caller's change commits. The
    chain head row is locked until then, so concurrent writers append one after the other.
    `payload` holds ids and counts, never personal data.
    """
    try:
        # Stored as hashed: whatever the database gives back must hash the same.
        clean_payload = json.loads(canonical_json(payload or {}))
    except (TypeError, ValueError) as exc:
        raise ApplicationError("Audit payloads must be JSON.") from exc
    tenant_id = tenant.pk if tenant is not None else None
    chain = chain_for(tenant_id)
    target_type, target_id, target_repr = describe_target(target)
    fields = {
        "chain": chain, "tenant_id": tenant_id, "action": action[:80],
        "actor": describe_actor(actor), "target_type": target_type, "target_id": target_id,
        "target_repr": target_repr, "payload": clean_payload,
    }
    with transaction.atomic():
        head = chain_head_lock(chain, tenant_id)
        # Timestamped under the lock, so `at` grows with `seq` (retention prunes by age).
        fields["at"] = at or timezone.now()
        seq = head.last_seq + 1
        prev_hash = head.last_hash or GENESIS_HASH
        digest = event_hash(seq=seq, prev_hash=prev_hash, **fields)
        event = AuditEvent.objects.create(seq=seq, prev_hash=prev_hash, hash=digest, **fields)
        head.last_seq, head.last_hash = seq, digest
        head.save(update_fields=["last_seq", "last_hash", "updated_at"])
    return event


def chain_head_lock(chain: str, tenant_id: int | None) -> AuditChainHead:
    """The chain's head row, created if missing, locked until the transaction ends."""
    head = AuditChainHead.objects.select_for_update().filter(chain=chain).first()
    if head is None:
        try:
            with transaction.atomic():
                AuditChainHead.objects.create(chain=chain, tenant_id=tenant_id)
        except IntegrityError:
            pass  # a concurrent writer created it; lock theirs
        head = AuditChainHead.objects.select_for_update().get(chain=chain)
    return head


def throttle_keys(kind: str, detail: dict[str, Any]) -> tuple[str, str]:
    """Cache keys of a security event's current window and of its suppressed count."""
    fingerprint = hashlib.sha256(canonical_json([kind, detail]).encode()).hexdigest()[:32]
    return f"compliance:secevt:{fingerprint}", f"compliance:secevt:{fingerprint}:suppressed"


def security_event(
    *, kind: str, detail: dict[str, Any] | None = None, tenant: Tenant | None = None,
    actor: Any = None,
) -> AuditEvent | None:
    """Record a security-relevant event (rejected signature, lockout...) on the audit log.

    Repeats of the same kind and detail within a few seconds are counted, not written; the next
    written row carries `suppressed`. Returns the row written, or None when it was suppressed.
    """
    detail = detail or {}
    window_key, suppressed_key = throttle_keys(kind, detail)
    if not cache.add(window_key, 1, timeout=SECURITY_EVENT_WINDOW_S):
        cache.add(suppressed_key, 0, timeout=_SUPPRESSED_TTL_S)
        with contextlib.suppress(ValueError):  # expired between add and incr
            cache.incr(suppressed_key)
        return None
    payload = dict(detail)
    suppressed = cache.get(suppressed_key, 0)
    if suppressed:
        cache.delete(suppressed_key)
        payload["suppressed"] = suppressed
    logger.info("Security event %s", kind)
    return audit_record(tenant=tenant, action=f"security.{kind}", actor=actor, payload=payload)
