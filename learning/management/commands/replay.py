"""`manage.py replay`: say an agent's past calls again to a version and print where it would act
differently (tools recorded, not run): their stored words (text mode), or with --audio the
caller's recorded voice through the media pipeline (calls without a recording: text).

    manage.py replay                          # the demo agent's 10 latest calls, its draft
    manage.py replay --agent 3 --agent-version 2 --calls 41,42 [--audio]
Exit status 1 when any call would go differently."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from learning.management.agent_option import add_agent_argument, agent_from_options


class Command(BaseCommand):
    help = "Replay an agent's past calls against a version and report the differences."

    def add_arguments(self, parser) -> None:
        add_agent_argument(parser)
        parser.add_argument("--agent-version", dest="agent_version", type=int, default=None,
                            help="Version number (default: the draft as it is now).")
        parser.add_argument("--calls", default=None,
                            help="Comma-separated call ids (default: the 10 latest).")
        parser.add_argument("--audio", action="store_true",
                            help="Say each recorded call's caller audio again, as a call "
                                 "(takes the calls' real time; reading a recording is audited).")

    def handle(self, *args, **options) -> None:
        from aybiza.core.errors import ApplicationError
        from learning.services import replay_run

        agent = agent_from_options(options)
        try:
            ids = ([int(part) for part in options["calls"].split(",") if part.strip()]
                   if options["calls"] else None)
            replays = replay_run(tenant=agent.tenant, agent=agent, call_ids=ids,
                                 version_number=options["agent_version"],
                                 audio=options["audio"])
        except (ValueError, ApplicationError) as exc:
            raise CommandError(getattr(exc, "message", str(exc))) from exc
        target = (f"version {options['agent_version']}" if options["agent_version"]
                  else "the draft")
        self.stdout.write(f"{agent.name}: {len(replays)} calls replayed against {target}")
        for replay in replays:
            mark = "DIFFERS" if replay.differences else "same"
            self.stdout.write(f"  call {replay.call_id:>6}  {replay.caller_turns:>2} caller "
                              f"turns  {replay.mode:<5}  {mark}")
            for difference in replay.differences:
                self.stdout.write(f"        {difference}")
        differing = sum(1 for r in replays if r.differences)
        self.stdout.write(f"{differing} of {len(replays)} would go differently.")
        if differing:
            raise SystemExit(1)
