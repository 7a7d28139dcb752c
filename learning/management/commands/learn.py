"""`manage.py learn`: run the learning job now and print the agent's open suggestions.

    manage.py learn                 # the demo agent
    manage.py learn --agent 3"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from agents.models import Agent


class Command(BaseCommand):
    help = "Run the learning job for an agent and print its open suggestions."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--agent", default=None,
                            help="Agent id or exact name (default: the demo agent).")

    def handle(self, *args, **options) -> None:
        from agents.demo import DEMO_AGENT_NAME
        from learning.selectors import suggestion_list
        from learning.services import learning_run_now

        key = options["agent"] or DEMO_AGENT_NAME
        agent = (Agent.objects.filter(pk=int(key)).first() if str(key).isdigit()
                 else Agent.objects.filter(name=key).order_by("id").first())
        if agent is None:
            raise CommandError(f"No agent {key!r} (run `manage.py seed_demo` for the demo).")
        run = learning_run_now(tenant=agent.tenant, agent=agent)
        self.stdout.write(f"{agent.name}: {run.calls_read} analysed calls read, "
                          f"{run.suggestions} suggestions created or updated.")
        for suggestion in suggestion_list(tenant=agent.tenant, agent=agent, status="open"):
            evidence = suggestion.evidence
            self.stdout.write(f"  #{suggestion.pk} {suggestion.title} "
                              f"({len(evidence.get('calls', []))} calls)")
            answer = suggestion.proposal.get("answer")
            if answer:
                self.stdout.write(f"      proposed answer: {answer}")
