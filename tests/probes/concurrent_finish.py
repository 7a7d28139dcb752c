"""Many calls ending at the same moment, each closed and audited from its own thread (as the
live calls of one daphne process close theirs), then counted: what `tests/test_concurrent_audit`
checks on the suite's database and, run as `python -m tests.probes.concurrent_finish` with the
embedded settings, on a fresh SQLite file.
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def finish_concurrently(*, tenant, phone_number, calls: int, threads: int) -> dict[str, Any]:
    """Start `calls` calls, then end them all at once (plus a transcript read each) from
    `threads` threads; report what the database holds afterwards."""
    from django.db import connection, connections

    from calls.models import Call, CallStatus
    from calls.services import call_finish, call_start, call_transcript_accessed
    from compliance.models import AuditEvent, chain_for
    from compliance.selectors import audit_chain_verify

    started = [call_start(tenant=tenant, phone_number=phone_number, call_sid=f"CA{n:032d}",
                          from_number=f"+1555020{n:04d}", to_number=phone_number.e164,
                          status=CallStatus.IN_PROGRESS) for n in range(calls)]
    barrier = threading.Barrier(threads)
    errors: list[str] = []

    def end(batch: list[Call]) -> None:
        try:
            barrier.wait(timeout=30)
            for call in batch:
                call_finish(call=call, outcome="caller_hung_up")
                call_transcript_accessed(call=call, actor="probe")
        except Exception as exc:  # reported, not raised: the count says what was lost
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(end, [started[i::threads] for i in range(threads)]))
    connections.close_all()
    ids = [call.pk for call in started]
    events = AuditEvent.objects.filter(tenant=tenant, target_type="calls.call",
                                       target_id__in=[str(pk) for pk in ids])
    return {
        "errors": errors,
        "closed": Call.objects.filter(pk__in=ids, ended_at__isnull=False,
                                      status=CallStatus.COMPLETED).count(),
        "audited_ends": events.filter(action="call.ended").count(),
        "audited_reads": events.filter(action="call.transcript_accessed").count(),
        "chain_problems": [str(p) for p in audit_chain_verify(chain=chain_for(tenant.pk))],
    }


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    from agents.services import agent_create, phone_number_create
    from aybiza.core.services import tenant_create

    call_command("migrate", verbosity=0)
    tenant = tenant_create(name="Probe Dental")
    agent = agent_create(tenant=tenant, name="Reception", greeting="Hello.",
                         system_prompt="You are a receptionist.", status="live")
    number = phone_number_create(tenant=tenant, e164="+15550109999", agent_id=agent.id)
    print(json.dumps(finish_concurrently(tenant=tenant, phone_number=number, calls=24,
                                         threads=8)))


if __name__ == "__main__":
    main()
