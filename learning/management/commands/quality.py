"""`manage.py quality` (`make eval`): how well the offline agent understands, on the evaluation
sets the project ships — text, speech, and the demo scenarios as real phone calls."""

from __future__ import annotations

import asyncio
import json
from io import StringIO
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from agents.demo_agents import DEMO_AGENTS
from learning.quality.report import plot, run_quality, table


class Command(BaseCommand):
    help = ("Measure the offline agent on the shipped evaluation sets: intents, slots and "
            "answers on text; word error rate and understanding on speech from two voices with "
            "and without noise; with --calls, the demo scenarios as phone calls to a real "
            "server (task completion, greeting and answer latency).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--speech", type=int, default=24,
                            help="Utterances spoken per agent and condition (0: none; "
                                 "default %(default)s).")
        parser.add_argument("--speech-all", action="store_true",
                            help="Speak every utterance of every set (about an hour).")
        parser.add_argument("--calls", action="store_true",
                            help="Also run every demo scenario as a phone call (starts daphne).")
        parser.add_argument("--json", default=None, help="Write the results here as JSON.")
        parser.add_argument("--plot", default=None, help="Draw the results into this PNG.")
        parser.add_argument("--check", action="store_true",
                            help="Exit 1 when a text target is missed or a scenario fails.")

    def handle(self, *args, **options) -> None:
        calls, overlap, pauses = self._calls() if options["calls"] else (None, None, None)
        run = run_quality(speech_per_agent=None if options["speech_all"] else options["speech"],
                          calls=calls, overlap=overlap, pauses=pauses)
        for line in table(run):
            self.stdout.write(line)
        overall = run.overall()
        self.stdout.write("")
        self.stdout.write("Overall: " + ", ".join(
            f"{key} {value:.1%}" for key, value in overall.items() if value is not None))
        if options["json"]:
            Path(options["json"]).parent.mkdir(parents=True, exist_ok=True)
            Path(options["json"]).write_text(json.dumps(run.as_dict(), indent=1))
            self.stdout.write(f"JSON: {options['json']}")
        if options["plot"]:
            plot(run, Path(options["plot"]))
            self.stdout.write(f"Plot: {options['plot']}")
        missed = run.failures()
        if missed:
            for line in missed:
                self.stdout.write(self.style.ERROR(f"MISSED  {line}"))
            if options["check"]:
                raise SystemExit(1)

    def _calls(self) -> tuple[dict[str, list], dict[str, list], dict[str, list]]:
        """Seed the demo against a local daphne, call every scenario of every agent, speak
        over each agent's greeting (backchannels, noises, interruptions), then pause
        mid-sentence with the words-aware end of turn on and off."""
        from calls.simulator.local_server import ServerFailed, local_server
        from calls.simulator.net import free_port
        from learning.quality.calls import call_scenarios
        from learning.quality.overlap import overlap_trials
        from learning.quality.pauses import measure_pauses
        from learning.quality.speech import VOICES

        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        call_command("migrate", verbosity=0, interactive=False)
        seed_out = StringIO()
        call_command("seed_demo", "--json", "--base-url", base_url, stdout=seed_out)
        seed = json.loads(seed_out.getvalue().strip().splitlines()[-1])
        numbers = {demo.key: seed["number"] if demo.key == "dental" else demo.number
                   for demo in DEMO_AGENTS}
        self.stdout.write(f"Calling every scenario through daphne on {base_url} …")
        try:
            with local_server(port):
                calls = {demo.key: asyncio.run(call_scenarios(base_url, demo, numbers[demo.key]))
                         for demo in DEMO_AGENTS}
                self.stdout.write("Speaking over each agent's greeting …")
                overlap = {demo.key: asyncio.run(overlap_trials(
                    base_url, settings.TWILIO_AUTH_TOKEN, demo.key, numbers[demo.key], VOICES))
                    for demo in DEMO_AGENTS}
                self.stdout.write("Pausing mid-sentence, end of turn on words and on silence …")
                pauses = {demo.key: measure_pauses(base_url, settings.TWILIO_AUTH_TOKEN,
                                                   demo.key, numbers[demo.key])
                          for demo in DEMO_AGENTS}
                return calls, overlap, pauses
        except ServerFailed as exc:
            raise CommandError(str(exc)) from exc
