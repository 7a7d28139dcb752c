"""`manage.py demo`: the main job, end to end on the embedded default.

Seeds the demo tenant, starts daphne on a free local port, calls the demo agent with the call
simulator (a scripted caller speaking real audio over the real webhook and WebSocket path),
prints both sides with latencies, then stops the server.
"""

from __future__ import annotations

import json
import time
from io import StringIO
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from calls.simulator.local_server import ServerFailed, local_server
from calls.simulator.net import free_port

BASE_DIR = Path(settings.BASE_DIR)
RETURN_SCRIPT = BASE_DIR / "calls" / "simulator" / "scripts" / "return.txt"
ANALYSIS_WAIT_S = 30.0


class Command(BaseCommand):
    help = "Seed the demo, start the server, run a simulated phone call, print it, stop."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", type=int, default=0, help="Server port (default: free).")
        parser.add_argument("--keep-serving", action="store_true",
                            help="Leave the server running after the call (Ctrl-C to stop).")
        parser.add_argument("--script", default=None, help="Caller script for the call.")
        parser.add_argument("--no-return-call", action="store_true",
                            help="Skip the second call that shows the caller remembered.")

    def handle(self, *args, **options) -> None:
        port = options["port"] or free_port()
        base_url = f"http://127.0.0.1:{port}"
        call_command("migrate", verbosity=0, interactive=False)
        seed_out = StringIO()
        call_command("seed_demo", "--json", "--base-url", base_url, stdout=seed_out)
        seed = json.loads(seed_out.getvalue().strip().splitlines()[-1])

        self.stdout.write(f"Starting daphne on {base_url} …")
        try:
            with local_server(port) as server:
                self.stdout.write("")
                self._call(base_url, seed, options)
                if options["keep_serving"]:
                    self.stdout.write("Serving; Ctrl-C to stop.")
                    server.wait()
        except KeyboardInterrupt:
            pass
        except ServerFailed as exc:
            raise CommandError(str(exc)) from exc

    def _call(self, base_url: str, seed: dict, options: dict) -> None:
        script_args = ["--script", options["script"]] if options["script"] else []
        call_command("simulate_call", "--url", base_url, "--public-url", base_url,
                     "--to", seed["number"], "--wav", str(BASE_DIR / "var" / "demo-call.wav"),
                     *script_args, stdout=self.stdout)
        first = self._print_stored_call(seed["number"])
        if first is not None and not options["script"] and not options["no_return_call"]:
            self._print_analysis(first)
            self.stdout.write("")
            self.stdout.write("A second call from the same number: the agent remembers.")
            call_command("simulate_call", "--url", base_url, "--public-url", base_url,
                         "--to", seed["number"], "--script", str(RETURN_SCRIPT),
                         stdout=self.stdout)
            self._print_stored_call(seed["number"])
        self._print_access(base_url, seed)

    def _print_analysis(self, call) -> None:
        """The post-call analysis the server writes in the background (learning/)."""
        from learning.models import CallAnalysis
        from learning.selectors import analysis_extracted

        deadline = time.monotonic() + ANALYSIS_WAIT_S
        analysis = None
        while analysis is None and time.monotonic() < deadline:
            analysis = CallAnalysis.objects.filter(call=call).first()
            if analysis is None:
                time.sleep(0.2)
        self.stdout.write("")
        if analysis is None:
            self.stdout.write("After the call: no analysis yet (POST_CALL_ANALYSIS off?).")
            return
        verdict = {True: "successful", False: "not successful", None: "not judged"}
        self.stdout.write(f"After the call ({analysis.analyzer} analysis): "
                          f"{verdict[analysis.success]} — {analysis.success_reason}")
        self.stdout.write(f"  Summary:   {analysis.summary}")
        self.stdout.write(f"  Extracted: {json.dumps(analysis_extracted(analysis))}")
        self.stdout.write(f"  Sentiment: {analysis.sentiment}; topics: "
                          f"{', '.join(analysis.topics)}")

    def _print_stored_call(self, number: str):
        """What the server stored: its own transcript and the latency breakdown per turn."""
        from calls.models import Call

        call = Call.objects.filter(to_number=number).order_by("-id").first()
        if call is None:
            return None
        self.stdout.write("")
        self.stdout.write(f"Stored by the server (call {call.id}, outcome {call.outcome}); agent "
                          "latency in ms after the caller stopped: STT final / first LLM token / "
                          "first TTS audio / first frame sent:")
        for turn in call.turns.order_by("index"):
            who = "CALLER" if turn.role == "caller" else "AGENT "
            timing = ""
            if turn.first_frame_ms is not None:
                timing = (f"  [{turn.stt_final_ms} / {turn.llm_first_token_ms} / "
                          f"{turn.tts_first_audio_ms} / {turn.first_frame_ms}]")
            self.stdout.write(f"  {who} │ {turn.text}{timing}")
        tools = call.tool_executions.all() if hasattr(call, "tool_executions") else []
        for run in tools:
            self.stdout.write(f"  tool {run.tool_name}: {run.status} in {run.latency_ms} ms "
                              f"(HTTP {run.http_status})")
        return call

    def _print_access(self, base_url: str, seed: dict) -> None:
        self.stdout.write("")
        self.stdout.write("The platform (while it runs — `make serve` keeps it up):")
        self.stdout.write(f"  Portal   {seed['portal_url']}   (user {seed['username']}, "
                          f"password {seed['password']})")
        self.stdout.write(f"  API      {base_url}/api/v1/agents/   "
                          f"(Authorization: Bearer {seed['api_key']})")
        self.stdout.write(f"  API docs {base_url}/api/docs/")
        self.stdout.write(f"  Admin    {base_url}/admin/   (user {seed['username']}, "
                          f"password {seed['password']})")
