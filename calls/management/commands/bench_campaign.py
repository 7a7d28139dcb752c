"""`manage.py bench_campaign`: a 10,000-contact campaign through the real dialer, the
simulated carrier and simulated callees (calls/bench/campaign.py); see docs/performance.md."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from calls.bench.campaign import CampaignBenchOptions, run


class Command(BaseCommand):
    help = "Run an outbound campaign benchmark (10,000 contacts by default)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--contacts", type=int, default=10_000)
        parser.add_argument("--max-concurrent", type=int, default=150)
        parser.add_argument("--cps", type=float, default=50.0, help="Calls per second.")
        parser.add_argument("--worker-concurrency", type=int, default=4)

    def handle(self, *args, **options) -> None:
        run(CampaignBenchOptions(
            contacts=options["contacts"], max_concurrent=options["max_concurrent"],
            calls_per_second=options["cps"], worker_concurrency=options["worker_concurrency"],
            say=self.stdout.write))
