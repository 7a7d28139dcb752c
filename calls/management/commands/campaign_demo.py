"""`manage.py campaign_demo`: a small outbound campaign, offline, end to end.

Seeds the demo tenant, starts daphne with Twilio's REST API pointed at the simulated carrier
(running in this process), and has the demo dental agent call three people through the public
API: one who books, a voicemail box that gets the message, a busy line retried. Prints the
progress, every call as stored (its transcript) and the results, then stops the server.
"""

from __future__ import annotations

import asyncio
import json
from io import StringIO

from aiohttp import web
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from calls.simulator.campaign_demo import print_results, run_campaign
from calls.simulator.carrier import Carrier
from calls.simulator.local_server import ServerFailed, local_server
from calls.simulator.net import free_port

# The simulated carrier's account (any AC… id: the carrier is ours).
DEMO_ACCOUNT_SID = "AC" + "d" * 32


class Command(BaseCommand):
    help = "Run a small offline outbound campaign (a booking, a voicemail, a busy retry)."

    def handle(self, *args, **options) -> None:
        port, carrier_port = free_port(), free_port()
        base_url = f"http://127.0.0.1:{port}"
        call_command("migrate", verbosity=0, interactive=False)
        seed_out = StringIO()
        call_command("seed_demo", "--json", "--base-url", base_url, stdout=seed_out)
        seed = json.loads(seed_out.getvalue().strip().splitlines()[-1])
        carrier = Carrier(DEMO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
        env = {"TWILIO_ACCOUNT_SID": DEMO_ACCOUNT_SID,
               "TWILIO_API_BASE_URL": f"http://127.0.0.1:{carrier_port}",
               "DIALER_EMBEDDED_CLOCK": "true"}
        self.stdout.write(f"Starting daphne on {base_url}, the simulated carrier on "
                          f"127.0.0.1:{carrier_port} …")
        try:
            with local_server(port, env=env):
                asyncio.run(self._run(carrier, carrier_port, base_url, seed))
        except ServerFailed as exc:
            raise CommandError(str(exc)) from exc

    async def _run(self, carrier: Carrier, carrier_port: int, base_url: str,
                   seed: dict) -> None:
        runner = web.AppRunner(carrier.build_app(), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", carrier_port).start()
        try:
            result = await run_campaign(
                base_url=base_url, api_key=seed["api_key"], agent_id=seed["agent_id"],
                from_e164=seed["number"], carrier=carrier, printer=self.stdout.write)
            print_results(result, carrier, printer=self.stdout.write)
        finally:
            await runner.cleanup()
