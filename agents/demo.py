"""The demo tenant: one idempotent service creates or refreshes it (`manage.py seed_demo`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from agents.models import Agent, AgentStatus
from agents.selectors import agent_list, phone_number_route
from agents.services import (
    agent_create,
    agent_update,
    normalize_e164,
    phone_number_create,
    phone_number_update,
)
from agents.versions import agent_publish
from aybiza.core.errors import ApplicationError
from aybiza.core.models import Role, Scope
from aybiza.core.selectors import api_key_list, tenant_by_slug
from aybiza.core.services import api_key_create, api_key_revoke, membership_set, tenant_create

DEMO_TENANT_NAME = "Demo"
DEMO_TENANT_SLUG = "demo"
DEMO_USERNAME = "demo"
DEMO_AGENT_NAME = "Demo Receptionist"
DEMO_NUMBER = "+15550100000"
# Only the key this service issued is rotated; keys the demo user made stay.
DEMO_KEY_NAME = "seed_demo"

DEMO_AGENT = {
    "greeting": "Hello, thanks for calling Demo Dental. How can I help you today?",
    "system_prompt": (
        "You are the friendly receptionist of Demo Dental, a small dental clinic. Answer "
        "questions about opening hours, location, prices, parking and appointments in one or two "
        "short sentences, as you would on the phone. If you do not know, say so and offer to "
        "take a message. Never give medical advice."
    ),
    # Offline providers: the demo answers calls with no account or network access.
    "stt_provider": "pocketsphinx",
    "llm_provider": "offline",
    "tts_provider": "hibari",
    "language": "en-US",
    "status": AgentStatus.LIVE,
    # After each call (learning/): judged against this, the booking time extracted.
    "success_criteria": "An appointment is booked.",
    "extraction_schema": {"type": "object", "properties": {
        "when": {"type": "string", "description": "When the booked appointment is."}}},
}
DEMO_TOOL = {
    "name": "book_appointment",
    "description": "Book an appointment at the clinic.",
    "parameters": {
        "type": "object",
        "properties": {"when": {"type": "string",
                                "description": "the day and time you would like to come in"}},
        "required": ["when"],
    },
    "trigger_phrases": ["book an appointment", "make an appointment", "schedule a visit",
                        "see the dentist", "book a check-up"],
    "kind": "http",
    "method": "POST",
    "auth_type": "hmac_sha256",
    "timeout_ms": 5000,
    "idempotent": False,
    "filler_text": "One moment while I book that.",
}
DEMO_KNOWLEDGE = [
    {"question": "What are your opening hours?",
     "answer": "We are open Monday to Friday from nine to five, and Saturday from nine to one."},
    {"question": "Where are you located? What is your address?",
     "answer": "We are at 12 Main Street, Springfield, next to the post office."},
    {"question": "How much does a check-up cost? What are your prices?",
     "answer": "A check-up is 60 dollars, a cleaning is 90 dollars, and a filling starts at 120."},
    {"question": "Is there parking?",
     "answer": "Yes, there is free parking behind the building."},
    {"question": "How do I book or cancel an appointment?",
     "answer": "I can take your name and a preferred time now, and please give us a day's "
               "notice to cancel."},
]


@dataclass(frozen=True)
class DemoSeed:
    """What `demo_seed` made. `password` and `api_key` are the only copies of the secrets."""

    tenant_id: int
    username: str
    password: str
    api_key: str
    agent_id: int
    number: str


@transaction.atomic
def demo_seed(*, number: str = DEMO_NUMBER, base_url: str | None = None) -> DemoSeed:
    """Create or refresh the demo: tenant, owner, API key, live agent and its number.

    Safe to run again: the same tenant, user, agent and number are reused and brought back to
    the demo's content. Each run sets a new random password and issues a new API key, revoking
    the key the previous run issued. `number` must not belong to another tenant.
    """
    e164 = normalize_e164(number, field="number")
    tenant = tenant_by_slug(slug=DEMO_TENANT_SLUG) or tenant_create(
        name=DEMO_TENANT_NAME, slug=DEMO_TENANT_SLUG)

    user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.is_active = True
    # The demo user also operates this local install, so the admin accepts the printed login.
    user.is_staff = True
    user.is_superuser = True
    user.save()
    membership_set(tenant=tenant, user=user, role=Role.OWNER)

    for old_key in api_key_list(tenant=tenant, name=DEMO_KEY_NAME, active=True):
        api_key_revoke(api_key=old_key, actor=user)
    issued = api_key_create(tenant=tenant, name=DEMO_KEY_NAME,
                            scopes=[Scope.READ, Scope.WRITE], created_by=user)

    agent = _demo_agent(tenant=tenant, actor=user)
    _demo_booking_tool(tenant=tenant, agent=agent, actor=user,
                       base_url=base_url or settings.PUBLIC_BASE_URL)
    _demo_scenarios(tenant=tenant, agent=agent, actor=user)

    # Callers hear published versions: publish the demo's content (a no-op when a re-run left
    # it unchanged, a new version when it brought an edited demo agent back).
    agent_publish(tenant=tenant, agent=agent, actor=user, note="The demo as seeded")

    existing = phone_number_route(e164=e164)
    if existing is None:
        phone_number_create(tenant=tenant, e164=e164, label="Demo line", agent_id=agent.id,
                            actor=user)
    elif existing.tenant_id == tenant.id:
        phone_number_update(tenant=tenant, number=existing, agent_id=agent.id, actor=user)
    else:
        raise ApplicationError(f"{e164} belongs to another tenant; pick another with --number.",
                               extra={"fields": {"number": ["Registered to another tenant."]}})

    return DemoSeed(tenant_id=tenant.id, username=user.username, password=password,
                    api_key=issued.key, agent_id=agent.id, number=e164)


def _demo_booking_tool(*, tenant, agent: Agent, actor, base_url: str) -> None:
    """`book_appointment`: an HTTP tool (HMAC-signed) calling the demo calendar of this server."""
    from agents.demo_calendar import demo_calendar_secret
    from tools.selectors import tool_list
    from tools.services import tool_create, tool_network_allowlist_set, tool_update

    # The demo calendar runs on this very server, which the SSRF guard refuses unless allowed:
    # exactly this server's host and port, not the rest of the host (databases, other services).
    tool_network_allowlist_set(tenant=tenant, entries=[demo_calendar_endpoint(base_url)])
    fields = {**DEMO_TOOL, "url_template": base_url.rstrip("/") + "/demo/calendar/bookings/"}
    existing = tool_list(tenant=tenant).filter(name=DEMO_TOOL["name"]).first()
    secrets_ = {"hmac_secret": demo_calendar_secret()}
    if existing is None:
        tool_create(tenant=tenant, secrets=secrets_, agent_ids=[agent.id], actor=actor, **fields)
    else:
        tool_update(tenant=tenant, tool=existing, secrets=secrets_, agent_ids=[agent.id],
                    actor=actor, **fields)


def demo_calendar_endpoint(base_url: str) -> str:
    """The one "host:port" the demo tenant's tools may reach: the server at `base_url`."""
    parts = urlsplit(base_url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# The demo agent's evaluation suite (`manage.py eval`): what it must keep doing after any edit.
DEMO_SCENARIOS = [
    {"name": "Answers the opening hours", "caller_lines": ["What are your opening hours?"],
     "checks": [{"type": "reply_contains", "text": "Monday to Friday"}]},
    {"name": "Books an appointment",
     "caller_lines": ["I would like to book an appointment.", "Tomorrow at ten in the morning."],
     "checks": [{"type": "tool_called", "name": "book_appointment",
                 "arguments": {"when": "tomorrow"}}, {"type": "max_turns", "turns": 2}]},
    {"name": "Knows where the clinic is", "caller_lines": ["Where are you located?"],
     "checks": [{"type": "reply_contains", "text": "Main Street"}]},
    {"name": "Ends the call on goodbye", "caller_lines": ["Thank you, goodbye."],
     "checks": [{"type": "ends_call"}]},
]


def _demo_scenarios(*, tenant, agent, actor) -> None:
    from learning.models import EvalScenario
    from learning.services import scenario_create

    EvalScenario.objects.filter(tenant=tenant, agent=agent).delete()  # back to the demo's
    for scenario in DEMO_SCENARIOS:
        scenario_create(tenant=tenant, agent=agent, actor=actor, **scenario)


def _demo_agent(*, tenant, actor) -> Agent:
    fields = {**DEMO_AGENT, "knowledge": [dict(entry) for entry in DEMO_KNOWLEDGE]}
    agent = agent_list(tenant=tenant, name=DEMO_AGENT_NAME).first()
    if agent is None:
        return agent_create(tenant=tenant, name=DEMO_AGENT_NAME, actor=actor, **fields)
    return agent_update(tenant=tenant, agent=agent, actor=actor, **fields)
