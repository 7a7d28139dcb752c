"""`manage.py bench_call_list [--calls 100000]`: server time of the portal's call list pages on
a tenant with many stored calls (seeded by `seed_calls` when it has fewer).

Measured in-process with Django's test client (URL routing, middleware, session, queries,
template): what the server spends per page, without the network. Reports p50/p95/max over runs.
`make bench-portal` runs it on a separate SQLite file: the embedded default.
"""

from __future__ import annotations

import statistics
import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from agents.selectors import agent_list
from agents.services import agent_create
from aybiza.core.models import Role
from aybiza.core.selectors import tenant_by_slug
from aybiza.core.services import membership_set, tenant_create
from calls.models import Call

SLUG = "bench-call-list"
PAGES = [
    ("first page", "/portal/calls/", {}),
    ("page 100", "/portal/calls/", {"page": "100"}),
    ("one agent", "/portal/calls/", "agent"),
    ("last 7 days", "/portal/calls/", "week"),
    ("outcome", "/portal/calls/", {"outcome": "no_input"}),
    ("transcript search", "/portal/calls/", {"q": "parking"}),
    ("call detail", "detail", {}),
]


class Command(BaseCommand):
    help = "Time the portal's call list on a tenant with many calls (p50/p95/max server ms)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--calls", type=int, default=100_000)
        parser.add_argument("--runs", type=int, default=30)

    def handle(self, *args, calls: int, runs: int, **options) -> None:
        tenant = tenant_by_slug(slug=SLUG) or tenant_create(name="Bench call list", slug=SLUG)
        if not agent_list(tenant=tenant).exists():
            for name in ("Reception", "Billing", "After hours"):
                agent_create(tenant=tenant, name=name)
        stored = Call.objects.filter(tenant=tenant).count()
        if stored < calls:
            call_command("seed_calls", tenant=SLUG, count=calls - stored, stdout=self.stdout)
        user, _ = get_user_model().objects.get_or_create(username="bench-call-list")
        membership_set(tenant=tenant, user=user, role=Role.VIEWER)
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        agent = agent_list(tenant=tenant).first()
        detail = Call.objects.filter(tenant=tenant).order_by("-started_at").first()
        total = Call.objects.filter(tenant=tenant).count()
        self.stdout.write(f"{connection.vendor}, {total} calls of one tenant, {runs} runs each "
                          f"(ms of server time per page):")
        self.stdout.write(f"  {'page':<18} {'p50':>7} {'p95':>7} {'max':>7} {'queries':>8}")
        for name, path, params in PAGES:
            if params == "agent":
                params = {"agent": str(agent.pk)}
            elif params == "week":
                from datetime import timedelta

                from django.utils import timezone
                params = {"started_from": (timezone.now() - timedelta(days=7)).date()}
            if path == "detail":
                path = f"/portal/calls/{detail.pk}/"
            timings, queries = self._time(client, path, params, runs)
            ordered = sorted(timings)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            self.stdout.write(f"  {name:<18} {statistics.median(ordered):7.1f} {p95:7.1f} "
                              f"{ordered[-1]:7.1f} {queries:8d}")

    @staticmethod
    def _time(client: Client, path: str, params: dict, runs: int) -> tuple[list[float], int]:
        client.get(path, params)  # warm: templates compiled, caches filled
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(path, params)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        with CaptureQueriesContext(connection) as captured:
            client.get(path, params)
        return timings, len(captured.captured_queries)
