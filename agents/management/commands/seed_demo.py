"""`manage.py seed_demo [--number +15550100000] [--json]`: the demo tenant, ready to call."""

from __future__ import annotations

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from agents.demo import DEMO_AGENT_NAME, DEMO_NUMBER, demo_seed
from agents.demo_agents import DEMO_AGENTS
from aybiza.core.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Create or refresh the demo tenant: owner 'demo' (new password each run), a new API key "
        "(the previous seed key is revoked), and three live agents with offline providers "
        "(a dental clinic, a restaurant, an IT help desk), each with knowledge, a tool, an "
        "evaluation suite and a phone number."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--number", default=DEMO_NUMBER,
                            help=f"E.164 number bound to the demo agent (default {DEMO_NUMBER}).")
        parser.add_argument("--base-url", default=None,
                            help="Where this server is reached (the demo booking tool calls it; "
                                 "default PUBLIC_BASE_URL).")
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="Also print the result as one JSON object on the last line.")

    def handle(self, *args, number: str, as_json: bool, base_url: str | None,
               **options) -> None:
        try:
            seed = demo_seed(number=number, base_url=base_url)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        portal_url = (base_url or settings.PUBLIC_BASE_URL).rstrip("/") + reverse("portal:home")
        write = self.stdout.write
        write(self.style.SUCCESS("Demo tenant ready."))
        write(f"  Username: {seed.username}")
        write(f"  Password: {seed.password}")
        write(f"  API key:  {seed.api_key}")
        write(f"  Agent:    {DEMO_AGENT_NAME} (id {seed.agent_id}), number {seed.number}")
        for demo in DEMO_AGENTS[1:]:
            write(f"  Agent:    {demo.name} (id {seed.agent_ids[demo.key]}), "
                  f"number {demo.number}")
        write(f"  Portal:   {portal_url}   (sign in with the username and password above)")
        if as_json:
            write(json.dumps({
                "username": seed.username, "password": seed.password, "api_key": seed.api_key,
                "agent_id": seed.agent_id, "number": seed.number, "tenant_id": seed.tenant_id,
                "agents": seed.agent_ids,
                "portal_url": portal_url,
            }))
