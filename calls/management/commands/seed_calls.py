"""`manage.py seed_calls --tenant SLUG --count 100000`: many stored calls, for load and page-speed
tests of the call list. Rows as the live call leaves them (turns with latencies); bulk inserts."""

from __future__ import annotations

import itertools
import random
import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from agents.selectors import agent_list
from aybiza.core.selectors import tenant_by_slug
from calls.models import Call, CallStatus, Outcome, Role, Turn

BATCH = 2000
LINES = [
    (Role.CALLER, "Hi, what are your opening hours?"),
    (Role.AGENT, "We are open Monday to Friday from nine to five."),
    (Role.CALLER, "Can I book a check-up for Tuesday? My number is [PHONE]."),
    (Role.AGENT, "You're booked for Tuesday at ten. Anything else?"),
    (Role.CALLER, "Is there parking?"),
    (Role.AGENT, "Yes, there is free parking behind the building."),
]
OUTCOMES = [Outcome.AGENT_ENDED, Outcome.CALLER_HUNG_UP, Outcome.NO_INPUT, Outcome.DISCONNECTED]


class Command(BaseCommand):
    help = "Store COUNT completed calls (with turns) for a tenant, spread over the last DAYS days."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="The tenant's slug.")
        parser.add_argument("--count", type=int, default=100_000)
        parser.add_argument("--turns", type=int, default=4, help=f"Per call (max {len(LINES)}).")
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--seed", type=int, default=1, help="Random seed (reproducible).")

    def handle(self, *args, tenant: str, count: int, turns: int, days: int, seed: int,
               **options) -> None:
        tenant_row = tenant_by_slug(slug=tenant)
        if tenant_row is None:
            raise CommandError(f"No tenant with slug {tenant!r}.")
        if count < 0 or not 0 <= turns <= len(LINES) or days < 1:
            raise CommandError("--count ≥ 0, --turns 0..6 and --days ≥ 1.")
        agents = list(agent_list(tenant=tenant_row).prefetch_related(None)) or [None]
        rng = random.Random(seed)
        now, span_s = timezone.now(), days * 86400
        made = 0
        while made < count:
            size = min(BATCH, count - made)
            with transaction.atomic():
                calls = Call.objects.bulk_create([
                    self._call(tenant_row, rng.choice(agents), rng, now, span_s)
                    for _ in range(size)])
                Turn.objects.bulk_create(itertools.chain.from_iterable(
                    self._turns(call, turns, rng) for call in calls))
            made += size
            self.stdout.write(f"\r{made}/{count} calls", ending="")
        self.stdout.write(f"\nStored {made} calls for {tenant_row.name}.")

    @staticmethod
    def _call(tenant, agent, rng: random.Random, now, span_s: int) -> Call:
        started = now - timedelta(seconds=rng.randrange(span_s))
        duration = rng.randrange(15, 300)
        return Call(tenant=tenant, agent=agent, call_sid=f"CA{uuid.uuid4().hex}",
                    from_number=f"+1555{rng.randrange(10**7):07d}", to_number="+15550100000",
                    status=CallStatus.COMPLETED, started_at=started,
                    ended_at=started + timedelta(seconds=duration), duration_seconds=duration,
                    outcome=rng.choice(OUTCOMES))

    @staticmethod
    def _turns(call: Call, count: int, rng: random.Random) -> list[Turn]:
        turns = []
        for index, (role, text) in enumerate(LINES[:count]):
            marks = [None] * 4
            if role == Role.AGENT:  # STT final → first token → first audio → first frame
                marks = list(itertools.accumulate(
                    [rng.randrange(120, 300), rng.randrange(150, 500), rng.randrange(80, 300),
                     rng.randrange(5, 60)]))
            turns.append(Turn(
                tenant_id=call.tenant_id, call=call, index=index, role=role, text=text,
                start_ms=index * 3000, end_ms=index * 3000 + 2500, stt_final_ms=marks[0],
                llm_first_token_ms=marks[1], tts_first_audio_ms=marks[2],
                first_frame_ms=marks[3]))
        return turns
