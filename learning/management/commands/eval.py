"""`manage.py eval`: run an agent's evaluation suite and print a pass/fail table.

    manage.py eval                      # the demo agent, its draft, text mode
    manage.py eval --agent 3 --agent-version 2
    manage.py eval --audio              # each scenario as a phone call (real time)
Exit status 1 when a scenario fails (usable in CI or before publishing)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from learning.management.agent_option import add_agent_argument, agent_from_options


class Command(BaseCommand):
    help = ("Run an agent's evaluation suite and print a pass/fail table: text mode (the brain, "
            "turn by turn), or --audio (each scenario as a phone call through the media "
            "pipeline, in this process).")

    def add_arguments(self, parser) -> None:
        add_agent_argument(parser)
        parser.add_argument("--agent-version", dest="agent_version", type=int, default=None,
                            help="Version number (default: the draft as it is now).")
        parser.add_argument("--audio", action="store_true",
                            help="Play each scenario as a phone call: the caller's lines "
                                 "spoken, the agent's recogniser, brain and voice (takes the "
                                 "conversations' real time).")

    def handle(self, *args, **options) -> None:
        from learning.services import evaluation_run

        agent = agent_from_options(options)
        if not agent.eval_scenarios.exists():
            raise CommandError(f"{agent.name} has no evaluation scenarios yet.")
        mode = "audio" if options["audio"] else "text"
        if mode == "audio":
            self.stdout.write("Calling each scenario (in real time) …")
        run = evaluation_run(tenant=agent.tenant, agent=agent, mode=mode, wait=True,
                             version_number=options["agent_version"])
        if run.status == "failed":
            raise CommandError(f"The evaluation could not finish: {run.error}")
        label = f"version {run.version.number}" if run.version else "draft"
        self.stdout.write(f"{agent.name} ({label}, {run.version.get_origin_display().lower()}"
                          f", {mode}):")
        width = max(len(r["scenario"]) for r in run.results)
        for result in run.results:
            mark = "PASS" if result["passed"] else "FAIL"
            answers = result.get("answer_ms") or []
            heard = (f"  answers {', '.join(f'{ms} ms' for ms in answers)}"
                     if mode == "audio" and answers else "")
            self.stdout.write(f"  {mark}  {result['scenario']:<{width}}  "
                              f"{result['latency_ms']:>5} ms{heard}")
            for check in result["checks"]:
                if not check["passed"]:
                    self.stdout.write(f"        ✗ {check['check']['type']}: {check['detail']}")
        self.stdout.write(f"{run.passed} passed, {run.failed} failed in {run.duration_ms} ms.")
        if run.failed:
            raise SystemExit(1)
