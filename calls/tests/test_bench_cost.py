"""The cost benchmark's typical calls through the Bedrock fake that bills like Bedrock: prompt
caching engages on every call, and what a call costs stays within the seed's budget."""

from __future__ import annotations

import pytest

from tests.bench_cost import CALLS, cost_per_call

pytestmark = pytest.mark.integration
SONNET = "us.anthropic.claude-sonnet-4-20250514-v1:0"


def test_caching_cuts_the_prompt_cost_and_every_typical_call_costs_under_ten_cents():
    off = {row["call"]: row for row in cost_per_call(prompt_cache=False, model=SONNET)}
    warm = cost_per_call(prompt_cache=True, model=SONNET, warm=True)

    assert len(warm) == len(CALLS)
    for row in warm:
        before = off[row["call"]]
        assert before["tokens"]["cache_read"] == 0 and row["tokens"]["cache_read"] > 0
        assert row["llm_input_usd"] <= 0.2 * before["llm_input_usd"], row["call"]
        assert row["total_usd"] < 0.10 and before["total_usd"] < 0.10
        assert row["cache_hit_ratio"] >= 0.9


def test_routing_sends_simple_turns_to_the_fast_model_and_stays_under_budget():
    routed = cost_per_call(prompt_cache=True, model=SONNET, warm=True,
                           fast_model="us.anthropic.claude-haiku-4-5-20251001-v1:0")
    for row in routed:
        assert 0 < row["fast_turns_share"] < 1, row["call"]  # both models answered
        assert row["total_usd"] < 0.10
