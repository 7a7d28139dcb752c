from __future__ import annotations

import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from aybiza.core.services import api_key_create, tenant_create
from compliance.chain import GENESIS_HASH
from compliance.models import AuditChainHead, AuditEvent, AuditLogImmutable, chain_for
from compliance.services import audit_record


def _verify(*args: str) -> tuple[bool, str]:
    from io import StringIO

    out = StringIO()
    try:
        call_command("verify_audit_chain", *args, stdout=out)
    except CommandError as exc:
        return False, out.getvalue() + str(exc)
    return True, out.getvalue()


def _raw(sql: str, params: list) -> None:
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql.format(table=table), params)


def _events(tenant, n: int) -> list[AuditEvent]:
    return [audit_record(tenant=tenant, action="test.event", payload={"n": i})
            for i in range(n)]


def test_events_form_one_hash_chain_per_tenant(tenant, other_tenant):
    # given two tenants writing events
    first, second = _events(tenant, 2)
    other = audit_record(tenant=other_tenant, action="test.event")

    # then each tenant has its own chain, linked by hashes
    assert (first.seq, second.seq, other.seq) == (1, 2, 1)
    assert first.prev_hash == GENESIS_HASH and other.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.hash
    assert {first.chain, other.chain} == {chain_for(tenant.pk), chain_for(other_tenant.pk)}
    assert AuditChainHead.objects.get(chain=first.chain).last_hash == second.hash


def test_core_services_audit_through_the_hook_with_the_actor(tenant, owner):
    # when a member creates an API key
    issued = api_key_create(tenant=tenant, name="ci", created_by=owner)

    # then the key creation is on the tenant's chain, naming the actor, without the secret
    event = AuditEvent.objects.get(chain=chain_for(tenant.pk), action="api_key.created")
    assert event.actor == f"user:{owner.pk}:owner"
    assert (event.target_type, event.target_id) == ("core.apikey", str(issued.api_key.pk))
    assert issued.key not in str(event.payload) + event.target_repr


def test_an_audit_event_disappears_with_the_callers_rolled_back_transaction(tenant):
    # when the caller's transaction fails after auditing
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(tenant=tenant, action="test.event")
        raise RuntimeError

    # then neither the event nor a chain advance remain
    assert not AuditEvent.objects.filter(chain=chain_for(tenant.pk)).exists()
    assert AuditChainHead.objects.filter(chain=chain_for(tenant.pk), last_seq__gt=0).count() == 0


def test_audit_events_refuse_every_orm_change(tenant):
    # given an event
    event = audit_record(tenant=tenant, action="test.event")
    rows = AuditEvent.objects.filter(pk=event.pk)

    # then edits and deletes through the ORM are refused
    event.action = "forged"
    for attempt in (event.save, event.delete, lambda: rows.update(action="forged"), rows.delete,
                    lambda: AuditEvent.objects.bulk_create([AuditEvent(chain="x", seq=9)])):
        with pytest.raises(AuditLogImmutable):
            attempt()
    assert AuditEvent.objects.get(pk=event.pk).action == "test.event"


def test_verify_passes_on_an_untouched_chain(tenant):
    _events(tenant, 3)

    ok, output = _verify()

    assert ok, output
    assert f"{chain_for(tenant.pk)}: ok (3 events" in output


def test_verify_reports_an_edited_row(tenant):
    # given a chain whose middle row is edited in the database, bypassing the ORM
    events = _events(tenant, 3)
    _raw("UPDATE {table} SET actor = %s WHERE id = %s", ["user:1:mallory", events[1].pk])

    ok, output = _verify("--tenant", tenant.slug)

    assert not ok
    assert f"#{events[1].seq}: edited" in output


def test_verify_reports_an_edited_payload(tenant):
    events = _events(tenant, 2)
    _raw("UPDATE {table} SET payload = %s WHERE id = %s", ['{"n": 99}', events[0].pk])

    ok, output = _verify()

    assert not ok and "#1: edited" in output


def test_verify_reports_a_deleted_row_as_a_gap(tenant):
    events = _events(tenant, 4)
    _raw("DELETE FROM {table} WHERE id = %s", [events[1].pk])

    ok, output = _verify()

    assert not ok
    assert "#3: deleted: rows 2 are missing" in output


def test_verify_reports_a_cut_tail(tenant):
    # given the newest rows deleted: no gap, but the head knows the chain was longer
    events = _events(tenant, 3)
    _raw("DELETE FROM {table} WHERE id IN (%s, %s)", [events[1].pk, events[2].pk])

    ok, output = _verify()

    assert not ok and "truncated: rows 2-3 are missing" in output


def test_verify_reports_reordered_rows(tenant):
    # given two rows whose places in the chain are swapped (via a free seq value)
    first, second, _ = _events(tenant, 3)
    _raw("UPDATE {table} SET seq = %s WHERE id = %s", [999_999, first.pk])
    _raw("UPDATE {table} SET seq = %s WHERE id = %s", [1, second.pk])
    _raw("UPDATE {table} SET seq = %s WHERE id = %s", [2, first.pk])

    ok, output = _verify()

    assert not ok
    assert "#2: reordered" in output


def test_verify_of_one_tenant_ignores_tampering_elsewhere(tenant, other_tenant):
    _events(tenant, 2)
    tampered = _events(other_tenant, 2)
    _raw("UPDATE {table} SET action = %s WHERE id = %s", ["forged", tampered[0].pk])

    assert _verify("--tenant", tenant.slug)[0]
    assert not _verify("--tenant", other_tenant.slug)[0]
    assert not _verify()[0]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_append_without_forking_the_chain():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers by itself")
    tenant = tenant_create(name="Busy")
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(15):
                with transaction.atomic():
                    audit_record(tenant=tenant, action="test.concurrent")
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    # when four threads append at once
    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then the chain is one straight line of 60 events
    assert not errors
    seqs = list(AuditEvent.objects.filter(chain=chain_for(tenant.pk))
                .values_list("seq", flat=True))
    assert seqs == list(range(1, 61))
    assert _verify("--tenant", tenant.slug)[0]
