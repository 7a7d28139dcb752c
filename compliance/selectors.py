"""Reads: the audit log and its verification, consents, retention policies, a caller's calls."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from django.db.models import Q, QuerySet

from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from calls.models import Call, Direction
from compliance.chain import GENESIS_HASH, HASHED_FIELDS, event_hash
from compliance.conf import setting
from compliance.models import (
    AuditChainHead,
    AuditEvent,
    ConsentRecord,
    RetentionPolicy,
    chain_for,
)

PRUNE_ACTION = "retention.audit_pruned"


def audit_event_list(*, tenant: Tenant) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(chain=chain_for(tenant.pk)).order_by("-seq")


@dataclass(frozen=True)
class ChainProblem:
    """One finding of `audit_chain_verify`: what looks wrong, and where."""

    chain: str
    kind: str  # edited | deleted | truncated | reordered | broken_link | head_missing | ...
    seq: int | None
    detail: str

    def __str__(self) -> str:
        where = f"#{self.seq}" if self.seq is not None else ""
        return f"{self.chain}{where}: {self.kind}: {self.detail}"


def audit_chains(*, tenant: Tenant | None = None) -> list[str]:
    """The chains to verify: the tenant's, or every chain with a head or an event."""
    if tenant is not None:
        return [chain_for(tenant.pk)]
    names = set(AuditChainHead.objects.values_list("chain", flat=True))
    names.update(AuditEvent.objects.order_by().values_list("chain", flat=True).distinct())
    return sorted(names)


# Complexity over the limit on purpose: each branch is one named way the audit chain can be broken,
# reported as such.
def audit_chain_verify(*, chain: str) -> list[ChainProblem]:  # noqa: C901
    """Recompute a chain: rows edited, deleted (seq gaps, a cut tail), reordered or relinked.

    Reads through the database in chunks; the head row says where the chain should end and,
    after retention pruned its oldest rows, where it now begins.
    """
    problems: list[ChainProblem] = []

    def report(kind: str, seq: int | None, detail: str) -> None:
        problems.append(ChainProblem(chain=chain, kind=kind, seq=seq, detail=detail))

    head = AuditChainHead.objects.filter(chain=chain).first()
    expected_seq = (head.base_seq if head else 0) + 1
    prev_hash = (head.base_hash if head and head.base_seq else "") or GENESIS_HASH
    last_id = 0
    last_prune_through = 0
    rows = (AuditEvent.objects.filter(chain=chain).order_by("seq")
            .values_list("id", "hash", *HASHED_FIELDS))
    for row_id, stored_hash, *values in rows.iterator(chunk_size=2000):
        fields = dict(zip(HASHED_FIELDS, values, strict=True))
        seq = fields["seq"]
        if seq > expected_seq:
            missing = f"{expected_seq}" if seq - 1 == expected_seq else f"{expected_seq}-{seq - 1}"
            report("deleted", seq, f"rows {missing} are missing")
        elif seq < expected_seq:
            report("before_base", seq, "row older than the chain's pruned base")
        elif fields["prev_hash"] != prev_hash:
            report("broken_link", seq, "prev_hash does not match the previous row")
        if event_hash(**fields) != stored_hash:
            report("edited", seq, "content does not match its hash")
        if row_id < last_id:
            report("reordered", seq, "row was written before the one it follows")
        if fields["action"] == PRUNE_ACTION:
            last_prune_through = int(fields["payload"].get("through_seq", 0))
        prev_hash, expected_seq, last_id = stored_hash, seq + 1, row_id
    last_seq = expected_seq - 1
    if head is None:
        if last_id:
            report("head_missing", None, "events exist but the chain head row is gone")
        return problems
    if head.last_seq > last_seq:
        report("truncated", head.last_seq, f"rows {last_seq + 1}-{head.last_seq} are missing")
    elif head.last_seq < last_seq:
        report("head_behind", last_seq, "rows were appended without moving the head")
    elif head.last_hash and head.last_hash != prev_hash:
        report("head_mismatch", last_seq, "the last row's hash differs from the head's")
    if head.base_seq != last_prune_through:
        report("base_mismatch", head.base_seq,
               f"base moved to {head.base_seq} but retention pruned through {last_prune_through}")
    return problems


def consent_list(*, tenant: Tenant, call: Call) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.filter(tenant=tenant, call=call)


def consent_granted(*, tenant: Tenant, call: Call, kind: str) -> bool | None:
    """The caller's latest answer for `kind` on this call; None when never asked."""
    record = consent_list(tenant=tenant, call=call).filter(kind=kind).order_by("at", "id").last()
    return record.granted if record else None


def retention_policy_get(*, tenant: Tenant) -> RetentionPolicy | None:
    return RetentionPolicy.objects.filter(tenant=tenant).first()


def normalize_phone(phone_number: str) -> str:
    """E.164 form of a number as a caller or an operator may type it."""
    try:
        parsed = phonenumbers.parse(phone_number, setting("COMPLIANCE_DEFAULT_REGION"))
    except phonenumbers.NumberParseException as exc:
        raise ApplicationError("Not a phone number.",
                               extra={"fields": {"phone": ["Not a phone number."]}}) from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ApplicationError("Not a phone number.",
                               extra={"fields": {"phone": ["Not a possible number."]}})
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def subject_calls(*, tenant: Tenant, phone_number: str) -> QuerySet[Call]:
    """The tenant's calls with this person: calls from them, and outbound calls to them."""
    e164 = normalize_phone(phone_number)
    return Call.objects.filter(tenant=tenant).filter(
        Q(direction=Direction.INBOUND, from_number=e164)
        | Q(direction=Direction.OUTBOUND, to_number=e164)
    )


def retention_tenant_ids() -> list[int]:
    """Tenants with a retention policy (inactive ones too: their data still ages out)."""
    return list(RetentionPolicy.objects.order_by("tenant_id").values_list("tenant_id", flat=True))
