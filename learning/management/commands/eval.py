"""`manage.py eval`: run an agent's evaluation suite (text mode) and print a pass/fail table.

    manage.py eval                      # the demo agent, its draft
    manage.py eval --agent 3 --agent-version 2
Exit status 1 when a scenario fails (usable in CI or before publishing)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from agents.models import Agent


class Command(BaseCommand):
    help = "Run an agent's evaluation suite (text mode) and print a pass/fail table."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--agent", default=None,
                            help="Agent id or exact name (default: the demo agent).")
        parser.add_argument("--agent-version", dest="agent_version", type=int, default=None,
                            help="Version number (default: the draft as it is now).")

    def handle(self, *args, **options) -> None:
        from agents.demo import DEMO_AGENT_NAME
        from learning.services import evaluation_run

        key = options["agent"] or DEMO_AGENT_NAME
        agent = (Agent.objects.filter(pk=int(key)).first() if str(key).isdigit()
                 else Agent.objects.filter(name=key).order_by("id").first())
        if agent is None:
            raise CommandError(f"No agent {key!r} (run `manage.py seed_demo` for the demo).")
        if not agent.eval_scenarios.exists():
            raise CommandError(f"{agent.name} has no evaluation scenarios yet.")
        run = evaluation_run(tenant=agent.tenant, agent=agent,
                             version_number=options["agent_version"])
        label = f"version {run.version.number}" if run.version else "draft"
        self.stdout.write(f"{agent.name} ({label}, {run.version.get_origin_display().lower()}):")
        width = max(len(r["scenario"]) for r in run.results)
        for result in run.results:
            mark = "PASS" if result["passed"] else "FAIL"
            self.stdout.write(f"  {mark}  {result['scenario']:<{width}}  "
                              f"{result['latency_ms']:>5} ms")
            for check in result["checks"]:
                if not check["passed"]:
                    self.stdout.write(f"        ✗ {check['check']['type']}: {check['detail']}")
        self.stdout.write(f"{run.passed} passed, {run.failed} failed in {run.duration_ms} ms.")
        if run.failed:
            raise SystemExit(1)
