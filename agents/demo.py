"""The demo tenant: one idempotent service creates or refreshes it (`manage.py seed_demo`)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from agents.demo_agents import DEMO_AGENTS, DENTAL, DemoAgent
from agents.models import Agent
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
DEMO_AGENT_NAME = DENTAL.name
DEMO_NUMBER = DENTAL.number
# Only the key this service issued is rotated; keys the demo user made stay.
DEMO_KEY_NAME = "seed_demo"

# The dental clinic is the demo's main agent (`make demo` calls it); the restaurant and the
# IT help desk answer their own numbers.
DEMO_AGENT = DENTAL.fields
DEMO_TOOL = {key: value for key, value in DENTAL.tools[0].items() if key != "path"}
DEMO_KNOWLEDGE = DENTAL.knowledge
DEMO_SCENARIOS = DENTAL.scenarios


@dataclass(frozen=True)
class DemoSeed:
    """What `demo_seed` made. `password` and `api_key` are the only copies of the secrets."""

    tenant_id: int
    username: str
    password: str
    api_key: str
    agent_id: int  # the dental clinic's, the main agent
    number: str
    agent_ids: dict[str, int]  # every demo agent's, by its key (dental, restaurant, helpdesk)


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

    base_url = base_url or settings.PUBLIC_BASE_URL
    # The demo tools call this very server, which the SSRF guard refuses unless allowed:
    # exactly this server's host and port, not the rest of the host (databases, other services).
    from tools.services import tool_network_allowlist_set
    tool_network_allowlist_set(tenant=tenant, entries=[demo_calendar_endpoint(base_url)])
    agents = {}
    for demo in DEMO_AGENTS:
        demo_number = e164 if demo is DENTAL else demo.number
        agents[demo.key] = _seed_agent(tenant=tenant, demo=demo, actor=user, base_url=base_url,
                                       e164=demo_number)
    agent = agents[DENTAL.key]

    return DemoSeed(tenant_id=tenant.id, username=user.username, password=password,
                    api_key=issued.key, agent_id=agent.id, number=e164,
                    agent_ids={key: row.id for key, row in agents.items()})


def _seed_agent(*, tenant, demo: DemoAgent, actor, base_url: str, e164: str) -> Agent:
    """One demo agent with its knowledge, tools, evaluation suite, published version and number."""
    fields = {**demo.fields, "knowledge": [dict(entry) for entry in demo.knowledge]}
    agent = agent_list(tenant=tenant, name=demo.name).first()
    if agent is None:
        agent = agent_create(tenant=tenant, name=demo.name, actor=actor, **fields)
    else:
        agent = agent_update(tenant=tenant, agent=agent, actor=actor, **fields)
    for tool in demo.tools:
        _demo_tool(tenant=tenant, agent=agent, tool=tool, actor=actor, base_url=base_url)
    _demo_scenarios(tenant=tenant, agent=agent, actor=actor, scenarios=demo.scenarios)
    # Callers hear published versions: publish the demo's content (a no-op when a re-run left
    # it unchanged, a new version when it brought an edited demo agent back).
    agent_publish(tenant=tenant, agent=agent, actor=actor, note="The demo as seeded")
    existing = phone_number_route(e164=e164)
    if existing is None:
        phone_number_create(tenant=tenant, e164=e164, label=f"{demo.name} line",
                            agent_id=agent.id, actor=actor)
    elif existing.tenant_id == tenant.id:
        phone_number_update(tenant=tenant, number=existing, agent_id=agent.id, actor=actor)
    else:
        raise ApplicationError(f"{e164} belongs to another tenant; pick another with --number.",
                               extra={"fields": {"number": ["Registered to another tenant."]}})
    return agent


def _demo_tool(*, tenant, agent: Agent, tool: dict, actor, base_url: str) -> None:
    """A demo HTTP tool (HMAC-signed) calling the demo booking system of this server."""
    from agents.demo_calendar import demo_calendar_secret
    from tools.selectors import tool_list
    from tools.services import tool_create, tool_update

    fields = {key: value for key, value in tool.items() if key != "path"}
    fields["url_template"] = base_url.rstrip("/") + tool["path"]
    existing = tool_list(tenant=tenant).filter(name=tool["name"]).first()
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


def _demo_scenarios(*, tenant, agent, actor, scenarios: list[dict]) -> None:
    from learning.models import EvalScenario
    from learning.services import scenario_create

    EvalScenario.objects.filter(tenant=tenant, agent=agent).delete()  # back to the demo's
    for scenario in scenarios:
        scenario_create(tenant=tenant, agent=agent, actor=actor, **scenario)
