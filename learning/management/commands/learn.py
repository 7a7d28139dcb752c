"""`manage.py learn`: run the learning job now and print the agent's open suggestions.

    manage.py learn                 # the demo agent
    manage.py learn --agent 3"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from learning.management.agent_option import add_agent_argument, agent_from_options


class Command(BaseCommand):
    help = "Run the learning job for an agent and print its open suggestions."

    def add_arguments(self, parser) -> None:
        add_agent_argument(parser)

    def handle(self, *args, **options) -> None:
        from learning.selectors import suggestion_list
        from learning.services import learning_run_now

        agent = agent_from_options(options)
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
