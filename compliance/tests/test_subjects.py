from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import models

from aybiza.core.errors import ApplicationError
from calls.models import Call, Direction, Turn
from calls.services import event_record
from compliance.models import AuditEvent, ConsentRecord, chain_for
from compliance.services import consent_record, subject_erase, subject_export
from compliance.services.subjects import subject_hash

CALLER = "+15557654321"
WORDS = "my dog Biscuit has a limp since Tuesday"
NEEDLES = [CALLER, CALLER[2:], "Biscuit"]
_TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField, models.BinaryField)


def _traces(needles: list[str]) -> list[str]:
    """Every table (all text, JSON and binary columns) and every media file holding a needle."""
    hits = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        columns = [f.attname for f in model._meta.concrete_fields
                   if isinstance(f, _TEXT_FIELDS)]
        if not columns:
            continue
        for row in model._base_manager.values_list(*columns):
            text = json.dumps(row, default=lambda v: bytes(v).decode("latin-1"))
            hits += [f"{model._meta.label}: {n}" for n in needles if n in text]
    for path in settings.MEDIA_ROOT.rglob("*"):
        if path.is_file():
            content = path.read_bytes().decode("latin-1") + str(path)
            hits += [f"file {path.name}: {n}" for n in needles if n in content]
    return hits


@pytest.fixture
def caller_history(tenant, other_tenant, make_call, record, owner):
    """Two calls from the caller (one recorded, with consent and an admin edit), plus others."""
    first = make_call(caller=CALLER, words=[WORDS, "I'm sorry to hear that."])
    record(first, f"RIFF audio of: {WORDS}".encode())
    event_record(call=first, type="stream.start", payload={"from": CALLER})
    consent_record(tenant=tenant, call=first, kind="recording", granted=True, method="speech",
                   disclosure_text="This call may be recorded.")
    LogEntry.objects.log_actions(user_id=owner.pk, queryset=[first], action_flag=CHANGE,
                                 change_message="[]", single_object=True)
    second = make_call(caller=CALLER, words=["calling back about Biscuit"])
    outbound = make_call(caller=CALLER, direction=Direction.OUTBOUND, words=["hello"])
    someone_else = make_call(caller="+15550009999", words=["a different caller"])
    other_tenants = make_call(caller=CALLER, owner=other_tenant, words=["Biscuit elsewhere"])
    return {"mine": [first, second, outbound], "someone_else": someone_else,
            "other_tenant": other_tenants}


def test_export_bundles_the_callers_calls_only(tenant, caller_history):
    bundle = subject_export(tenant=tenant, phone_number="(555) 765-4321")

    assert bundle["subject"] == {"phone_number": CALLER}
    assert [c["call_sid"] for c in bundle["calls"]] == [c.call_sid for c in caller_history["mine"]]
    assert bundle["calls"][0]["transcript"][0]["text"] == WORDS
    assert bundle["calls"][0]["events"][0]["payload"] == {"from": CALLER}
    assert bundle["recordings"] == [{"call_sid": caller_history["mine"][0].call_sid,
                                     "file": caller_history["mine"][0].recording.name}]
    assert [(c["kind"], c["granted"]) for c in bundle["consents"]] == [("recording", True)]
    assert "a different caller" not in json.dumps(bundle)
    assert "Biscuit elsewhere" not in json.dumps(bundle)


def test_export_is_audited_under_a_pseudonym(tenant, caller_history):
    subject_export(tenant=tenant, phone_number=CALLER)

    event = AuditEvent.objects.get(chain=chain_for(tenant.pk), action="subject.exported")
    assert event.payload == {"subject": subject_hash(tenant=tenant, e164=CALLER), "calls": 3}
    assert CALLER[2:] not in json.dumps(event.payload)


def test_erasure_leaves_no_trace_of_the_caller(tenant, caller_history,
                                              django_capture_on_commit_callbacks):
    # given the caller's number and words are in several tables and a recording file
    before = _traces(NEEDLES)
    assert {"calls.Call: +15557654321", "calls.Turn: Biscuit", "calls.CallEvent: +15557654321",
            "admin.LogEntry: +15557654321"} <= set(before)
    # (the recording is encrypted at rest, so its bytes hold no readable trace; the file goes)
    recording = settings.MEDIA_ROOT / caller_history["mine"][0].recording.name
    assert recording.is_file()

    # when the tenant erases the caller
    with django_capture_on_commit_callbacks(execute=True):
        counts = subject_erase(tenant=tenant, phone_number=CALLER, actor=None)

    # then only the other tenant's separate copy is left anywhere
    other_call = caller_history["other_tenant"]
    remaining = _traces(NEEDLES)
    assert remaining == [f"calls.Call: {CALLER}", f"calls.Call: {CALLER[2:]}",
                         "calls.Turn: Biscuit"], remaining
    assert Call.objects.filter(tenant=tenant).get() == caller_history["someone_else"]
    assert Turn.objects.filter(call=other_call).exists()
    assert counts["calls"] == 3 and counts["recordings"] == 1 and counts["calls.turn"] == 4
    assert not ConsentRecord.objects.exists()
    assert not recording.exists()


def test_erasure_keeps_a_pseudonymous_tombstone(tenant, caller_history):
    subject_erase(tenant=tenant, phone_number=CALLER, actor="user:1:dpo")

    tombstone = AuditEvent.objects.get(chain=chain_for(tenant.pk), action="subject.erased")
    assert tombstone.payload["subject"] == subject_hash(tenant=tenant, e164=CALLER)
    assert tombstone.actor == "user:1:dpo"
    assert CALLER[2:] not in json.dumps(tombstone.payload)


def test_a_number_that_is_not_one_is_refused(tenant):
    with pytest.raises(ApplicationError):
        subject_export(tenant=tenant, phone_number="call me maybe")


def test_consent_needs_the_calls_own_tenant(tenant, other_tenant, make_call):
    call = make_call()

    with pytest.raises(ApplicationError):
        consent_record(tenant=other_tenant, call=call, kind="recording", granted=True,
                       method="dtmf")
    with pytest.raises(ApplicationError):
        consent_record(tenant=tenant, call=call, kind="telepathy", granted=True, method="dtmf")


def test_the_latest_consent_answer_counts(tenant, make_call):
    from compliance.selectors import consent_granted

    call = make_call()
    assert consent_granted(tenant=tenant, call=call, kind="recording") is None

    consent_record(tenant=tenant, call=call, kind="recording", granted=True, method="speech")
    consent_record(tenant=tenant, call=call, kind="recording", granted=False, method="dtmf")

    assert consent_granted(tenant=tenant, call=call, kind="recording") is False
    event = AuditEvent.objects.filter(action="consent.recorded").last()
    assert event.payload == {"call_id": call.pk, "kind": "recording", "granted": False,
                             "method": "dtmf"}


def test_registered_providers_export_and_erase_their_data(tenant, caller_history, monkeypatch):
    # given an app (memory) that keeps facts about callers by number
    from compliance.services import subjects

    memory = {(tenant.pk, CALLER): ["has a dog called Biscuit"]}
    monkeypatch.setattr(subjects, "subject_data_providers", {})
    subjects.register_subject_data(
        "memory",
        export=lambda owner, e164, calls: memory.get((owner.pk, e164), []),
        erase=lambda owner, e164, calls: len(memory.pop((owner.pk, e164), [])),
    )

    # then export includes its data and erasure removes it
    bundle = subject_export(tenant=tenant, phone_number=CALLER)
    assert bundle["providers"] == {"memory": ["has a dog called Biscuit"]}
    counts = subject_erase(tenant=tenant, phone_number=CALLER, actor=None)
    assert counts["memory"] == 1 and memory == {}
