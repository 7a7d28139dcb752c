"""Data-subject requests for one caller, known by phone number: export (access, portability)
and erasure. The audit log keeps a tombstone with a keyed hash of the number, never the number.

Apps that keep caller data without a foreign key to a call (memory keyed by number, learning
datasets...) register a provider: `register_subject_data("memory", export=..., erase=...)`.
Rows with a foreign key to `calls.Call` are found and handled without registering.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone

from aybiza.core.models import Tenant
from calls.models import Call, CallEvent, Turn
from compliance.hashing import keyed_hash
from compliance.models import CallerCall, ConsentRecord
from compliance.selectors import normalize_phone, subject_calls
from compliance.services.audit import audit_record
from compliance.services.storage import delete_files_on_commit

# export(tenant, e164, calls) -> JSON-able data; erase(tenant, e164, calls) -> rows deleted.
ExportFn = Callable[[Tenant, str, models.QuerySet], Any]
EraseFn = Callable[[Tenant, str, models.QuerySet], int]


@dataclass(frozen=True)
class SubjectDataProvider:
    export: ExportFn
    erase: EraseFn


subject_data_providers: dict[str, SubjectDataProvider] = {}
TOOL_EXECUTION_LABEL = "tools.toolexecution"
_HANDLED = (Turn, CallEvent, ConsentRecord)


def register_subject_data(name: str, *, export: ExportFn, erase: EraseFn) -> None:
    """Let another app export and erase what it keeps about a caller (call from ready())."""
    subject_data_providers[name] = SubjectDataProvider(export=export, erase=erase)


def subject_hash(*, tenant: Tenant, e164: str) -> str:
    """The pseudonym of a number in the audit log: stable per tenant, not reversible."""
    return keyed_hash("subject", f"{tenant.pk}:{e164}")


def _call_linked_fields() -> list[models.ForeignKey]:
    """Foreign keys to a call in models other than the ones handled here (e.g. tool runs)."""
    return [
        field
        for model in apps.get_models()
        if not model._meta.proxy and model not in _HANDLED
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is Call
    ]


def _rows(queryset: models.QuerySet) -> list[dict[str, Any]]:
    # Through JSON so datetimes, decimals and UUIDs come out as strings.
    return json.loads(json.dumps(list(queryset.values()), default=str))


def subject_export(*, tenant: Tenant, phone_number: str, actor: Any = None) -> dict[str, Any]:
    """Everything the tenant holds about a caller, as one JSON-able bundle (GDPR art. 15/20).

    Calls with their transcripts, events, consents and recording file names; rows of other
    apps linked to those calls (tool runs); data of registered providers. The export itself
    is audited, under the number's keyed hash.
    """
    e164 = normalize_phone(phone_number)
    calls = subject_calls(tenant=tenant, phone_number=e164).order_by("started_at", "id")
    call_list = list(calls.prefetch_related("turns", "events", "consents"))
    bundle: dict[str, Any] = {
        "subject": {"phone_number": e164},
        "tenant": tenant.slug,
        "generated_at": timezone.now().isoformat(),
        "calls": [_call_export(call) for call in call_list],
        "recordings": [{"call_sid": c.call_sid, "file": c.recording.name}
                       for c in call_list if c.recording],
        "consents": [_consent_export(r) for c in call_list for r in c.consents.all()],
        "tool_runs": [],
        "related": {},
        "providers": {},
    }
    for field in _call_linked_fields():
        label = field.model._meta.label_lower
        rows = _rows(field.model.objects.filter(**{f"{field.name}__in": calls}))
        if label == TOOL_EXECUTION_LABEL:
            bundle["tool_runs"].extend(rows)
        elif rows:
            bundle["related"].setdefault(label, []).extend(rows)
    for name, provider in subject_data_providers.items():
        bundle["providers"][name] = provider.export(tenant, e164, calls)
    with transaction.atomic():
        audit_record(tenant=tenant, action="subject.exported", actor=actor,
                     payload={"subject": subject_hash(tenant=tenant, e164=e164),
                              "calls": len(call_list)})
    return bundle


def _call_export(call: Call) -> dict[str, Any]:
    return {
        "call_sid": call.call_sid, "direction": call.direction,
        "from_number": call.from_number, "to_number": call.to_number,
        "status": call.status, "outcome": call.outcome,
        "started_at": call.started_at.isoformat(),
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "duration_seconds": call.duration_seconds,
        "recording": call.recording.name or None,
        "transcript": [{"index": t.index, "role": t.role, "text": t.text,
                        "start_ms": t.start_ms, "end_ms": t.end_ms} for t in call.turns.all()],
        "events": [{"type": e.type, "at": e.at.isoformat(), "offset_ms": e.offset_ms,
                    "payload": e.payload} for e in call.events.all()],
    }


def _consent_export(record: ConsentRecord) -> dict[str, Any]:
    return {"call_sid": record.call.call_sid, "kind": record.kind, "granted": record.granted,
            "method": record.method, "at": record.at.isoformat(),
            "disclosure_text": record.disclosure_text}


def subject_erase(*, tenant: Tenant, phone_number: str, actor: Any) -> dict[str, int]:
    """Delete everything the tenant holds about a caller (GDPR art. 17); returns counts.

    Calls to or from the number go with their turns, events, consents, recording files and
    linked rows (tool runs); registered providers erase the rest (memory). Admin log entries
    that named those objects are blanked. The audit log keeps only a tombstone with the
    number's keyed hash and the counts. Recording files are deleted after commit.
    """
    e164 = normalize_phone(phone_number)
    with transaction.atomic():
        calls = subject_calls(tenant=tenant, phone_number=e164).select_for_update()
        call_ids = list(calls.values_list("id", flat=True))
        counts = {"calls": len(call_ids), "recordings": 0}
        names = list(calls.exclude(recording="").values_list("recording", flat=True))
        counts["recordings"] = len(names)
        delete_files_on_commit(Call._meta.get_field("recording").storage, names)
        for name, provider in subject_data_providers.items():
            counts[name] = provider.erase(tenant, e164, calls)
        logged = {Call: call_ids}
        for model in _HANDLED:
            ids = list(model.objects.filter(call_id__in=call_ids).values_list("id", flat=True))
            logged[model] = ids
            counts[model._meta.label_lower] = len(ids)
        for field in _call_linked_fields():
            deleted, _ = field.model.objects.filter(**{f"{field.name}__in": call_ids}).delete()
            counts[field.model._meta.label_lower] = deleted
        Call.objects.filter(id__in=call_ids).delete()
        _blank_admin_log(logged)
        audit_record(tenant=tenant, action="subject.erased", actor=actor,
                     payload={"subject": subject_hash(tenant=tenant, e164=e164), **counts})
    return counts


def _blank_admin_log(ids_by_model: dict[type[models.Model], list[int]]) -> None:
    """Admin history names objects by `str()`, which for a call includes the numbers."""
    for model, ids in ids_by_model.items():
        if not ids:
            continue
        types = [ContentType.objects.get_for_model(model)]
        if model is Call:
            types.append(ContentType.objects.get_for_model(CallerCall, for_concrete_model=False))
        LogEntry.objects.filter(content_type__in=types,
                                object_id__in=[str(i) for i in ids]).update(
            object_repr="[erased]", change_message="")
