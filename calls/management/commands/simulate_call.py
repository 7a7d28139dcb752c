"""`manage.py simulate_call`: play Twilio and a caller against a running server."""

from __future__ import annotations

import asyncio
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from calls.simulator.caller import ScriptedCaller, Transcriber, parse_script
from calls.simulator.phone import DialError, TwilioPhone

DEFAULT_SCRIPT = Path(__file__).resolve().parents[2] / "simulator" / "scripts" / "demo.txt"


class Command(BaseCommand):
    help = ("Call a running AYBIZA server like Twilio would: signed webhook and stream, a "
            "scripted caller speaking in real time, a live two-sided transcript with latencies.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000",
                            help="Where the server listens (default %(default)s).")
        parser.add_argument("--public-url", default=None,
                            help="The PUBLIC_BASE_URL the server signs over (default: setting).")
        parser.add_argument("--auth-token", default=None,
                            help="Twilio auth token to sign with (default: TWILIO_AUTH_TOKEN).")
        parser.add_argument("--to", default="+15550100000", help="The agent's number.")
        parser.add_argument("--from", dest="from_", default="+15557654321",
                            help="The caller's number.")
        parser.add_argument("--script", default=None,
                            help=f"Script file (default: {DEFAULT_SCRIPT.name}).")
        parser.add_argument("--say", action="append", default=[],
                            help="A caller line (repeatable; replaces the script).")
        parser.add_argument("--voice", default="", help="Caller voice (TTS voice name).")
        parser.add_argument("--caller-tts", default="hibari", help="TTS for the caller's voice.")
        parser.add_argument("--wav", default=None, help="Save the call as a stereo WAV here.")
        parser.add_argument("--no-transcribe", action="store_true",
                            help="Don't transcribe the agent's audio back.")
        parser.add_argument("--timeout", type=float, default=30.0,
                            help="Seconds to wait for each agent turn.")

    def handle(self, *args, **options) -> None:
        if options["say"]:
            lines = options["say"]
        else:
            path = Path(options["script"]) if options["script"] else DEFAULT_SCRIPT
            if not path.exists():
                raise CommandError(f"No script file at {path}.")
            lines = path.read_text().splitlines()
        try:
            steps = parse_script(lines)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        phone = TwilioPhone(options["url"], options["auth_token"] or settings.TWILIO_AUTH_TOKEN,
                            public_base_url=options["public_url"] or settings.PUBLIC_BASE_URL)
        # The general model, unbiased: the transcript shows what a stranger would hear.
        transcriber = None if options["no_transcribe"] else Transcriber()
        caller = ScriptedCaller(phone, to=options["to"], from_=options["from_"],
                                voice=options["voice"], tts_provider=options["caller_tts"],
                                transcriber=transcriber, turn_timeout_s=options["timeout"],
                                printer=lambda line: self.stdout.write(line))
        try:
            report = asyncio.run(caller.run(steps, wav_path=options["wav"]))
        except (DialError, OSError) as exc:
            raise CommandError(f"The call failed: {exc}") from exc
        latencies = sorted(report.latencies_ms)
        self.stdout.write("")
        if report.greeting_ms is not None:
            self.stdout.write(f"Greeting: first audio {report.greeting_ms} ms after the stream "
                              "started.")
        if latencies:
            self.stdout.write(
                f"Agent turns: {len(latencies)}; first audio after the caller stopped: "
                f"median {latencies[len(latencies) // 2]} ms, max {latencies[-1]} ms.")
        self.stdout.write(f"Marks echoed: {report.marks_echoed}; clears: {report.clears}; "
                          f"agent frames received: {report.frames_received}.")
        if report.wav_path:
            self.stdout.write(f"Recording: {report.wav_path}")
        if not any(turn.who == "agent" for turn in report.turns):
            raise CommandError("The agent never answered.")
