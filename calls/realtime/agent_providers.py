"""The providers an agent's calls use — with its fallbacks and its tenant's credentials —
built for work outside a live call: post-call analysis, evaluations, preparing its greeting."""

from __future__ import annotations

from typing import Any

from agents.models import PROVIDER_SECRET_NAMES
from agents.selectors import provider_credentials_for
from calls.realtime.providers.failover import build_from_options


def llm_for_agent(agent) -> Any:
    """The agent's language model as calls build it (its fallbacks and the tenant's credentials
    included), for work outside a call such as post-call analysis."""
    options = agent.provider_options or {}
    chosen = llm_options(agent, options)
    credentials = tenant_credentials(agent.tenant, {"llm": (agent.llm_provider, chosen)})
    return build_from_options("llm", agent.llm_provider,
                              with_credentials(agent.llm_provider, chosen, credentials))


def tts_for_agent(agent) -> Any:
    """The agent's voice as calls build it (fallbacks and the tenant's credentials included),
    for work outside a call such as preparing its greeting."""
    options = (agent.provider_options or {}).get("tts")
    credentials = tenant_credentials(agent.tenant, {"tts": (agent.tts_provider, options)})
    return build_from_options("tts", agent.tts_provider,
                              with_credentials(agent.tts_provider, options, credentials))


def with_credentials(primary: str, options: dict[str, Any] | None,
                     credentials: dict[str, dict[str, str]]) -> dict[str, Any]:
    """`options` for `build_from_options` with the tenant's `credentials` filled in: the
    primary's at the top level, each fallback's under its name. Values the options already
    give win; a provider the tenant has no credentials for keeps the platform's (settings)."""
    merged = {**credentials.get(primary, {}), **(options or {})}
    for name in merged.get("fallbacks", []):
        if name in credentials:
            own = merged.get(name)
            merged[name] = {**credentials[name], **(own if isinstance(own, dict) else {})}
    return merged


def tenant_credentials(tenant, chains: dict[str, tuple[str, dict | None]]) -> dict[str, dict]:
    # Decrypt only what these chains use: an agent on the offline providers costs no query.
    names = {name for primary, options in chains.values()
             for name in [primary, *(options or {}).get("fallbacks", [])]}
    names &= set(PROVIDER_SECRET_NAMES)
    return provider_credentials_for(tenant=tenant, providers=names) if names else {}


def llm_options(agent, options: dict) -> dict:
    llm_options = dict(options.get("llm") or {})
    if agent.llm_model and agent.llm_provider in ("bedrock", "openai"):
        llm_options.setdefault("model", agent.llm_model)
    return llm_options
