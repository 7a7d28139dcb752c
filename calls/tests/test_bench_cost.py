"""The cost benchmark's typical calls through the Bedrock fake that bills like Bedrock: prompt
caching engages on every call, and what a call costs stays within the seed's budget."""

from __future__ import annotations

import pytest

from tests.bench_cost import CALLS, cost_per_call

pytestmark = pytest.mark.integration
SONNET = "us.anthropic.claude-sonnet-4-20250514-v1:0"


def test_the_typical_calls_take_three_to_five_minutes_to_say():
    # the per-minute price is over the script's own length, so the scripts must be the
    # 3-5 minute calls the benchmark claims (not a label on a one-minute exchange)
    for call in CALLS:
        assert 3 <= call.minutes <= 5, (call.name, call.minutes)
        assert sum(1 for step in call.steps if step.tool) >= 2, call.name


def test_caching_cuts_the_prompt_cost_by_four_fifths_even_cold_and_calls_cost_under_ten_cents():
    off = {row["call"]: row for row in cost_per_call(prompt_cache=False, model=SONNET)}
    cold = cost_per_call(prompt_cache=True, model=SONNET)
    warm = cost_per_call(prompt_cache=True, model=SONNET, warm=True)

    assert len(cold) == len(warm) == len(CALLS)
    for row in cold + warm:
        before = off[row["call"]]
        assert before["tokens"]["cache_read"] == 0 and row["tokens"]["cache_read"] > 0
        assert row["llm_input_usd"] <= 0.2 * before["llm_input_usd"], row["call"]
        assert row["total_usd"] < 0.10, row["call"]
        assert row["cache_hit_ratio"] >= (0.95 if row["warm"] else 0.9), row["call"]
    for cold_row, warm_row in zip(cold, warm, strict=True):  # an earlier call's cache is used
        assert warm_row["llm_input_usd"] < cold_row["llm_input_usd"], warm_row["call"]


def test_routing_sends_simple_turns_to_the_fast_model_and_prices_both():
    routed = cost_per_call(prompt_cache=True, model=SONNET, warm=True,
                           fast_model="us.anthropic.claude-haiku-4-5-20251001-v1:0")
    for row in routed:
        assert 0 < row["fast_turns_share"] < 1, row["call"]  # both models answered
        assert row["llm_usd"] > 0 and row["total_usd"] < 0.12
