"""The bench tenant: one agent on the instant fake providers, reachable at one number.

Run by the bench runner in a subprocess configured for the bench database:

    python -m calls.bench.seed '<json agent fields>'    → prints {"tenant_id", "agent_id", "e164"}
"""

from __future__ import annotations

import json
import sys
from typing import Any

BENCH_TENANT = "Bench"
BENCH_NUMBER = "+15550100199"
BENCH_GREETING = "Hello, thanks for calling Bench Dental. How can I help you today?"


def seed_bench(*, agent_fields: dict[str, Any]) -> dict[str, Any]:
    """Create the bench tenant, its agent (`agent_fields` over the defaults) and its number."""
    from agents.models import Agent, AgentStatus
    from agents.services import AGENT_FIELDS, agent_create, phone_number_create
    from aybiza.core.services import tenant_create

    tenant = tenant_create(name=BENCH_TENANT)
    fields: dict[str, Any] = {
        "name": "Bench agent", "greeting": BENCH_GREETING, "language": "en-US",
        "stt_provider": "instant", "llm_provider": "instant", "tts_provider": "instant",
        "status": AgentStatus.LIVE,
        # Silence never triggers a reprompt or a hang-up within a bench step.
        "reprompt_after_s": 120, "hangup_after_s": 600,
        **agent_fields,
    }
    provider_options = fields.pop("provider_options", {})
    if "provider_options" in AGENT_FIELDS:
        fields["provider_options"] = provider_options
    agent = agent_create(tenant=tenant, **fields)
    if "provider_options" not in AGENT_FIELDS:  # the service does not take them (yet)
        Agent.objects.filter(pk=agent.pk).update(provider_options=provider_options)
    number = phone_number_create(tenant=tenant, e164=BENCH_NUMBER, agent_id=agent.id)
    from aybiza.core.services import api_key_create

    key = api_key_create(tenant=tenant, name="bench").key  # the campaign bench drives the API
    return {"tenant_id": tenant.id, "agent_id": agent.id, "e164": number.e164,
            "number_id": number.id, "api_key": key,
            "end_of_turn_silence_ms": agent.end_of_turn_silence_ms,
            "barge_in_min_speech_ms": agent.barge_in_min_speech_ms}


def main(argv: list[str]) -> None:
    import django

    django.setup()
    print(json.dumps(seed_bench(agent_fields=json.loads(argv[1]) if len(argv) > 1 else {})))


if __name__ == "__main__":
    main(sys.argv)
