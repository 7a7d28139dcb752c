"""Cost estimate of a call: usage per provider priced from the PRICE_* settings."""

from __future__ import annotations

import pytest

from calls.realtime.costs import CostMeter, estimate_cost, price_settings
from calls.realtime.providers.llm.base import Usage

PRICES = {
    "PRICE_DEEPGRAM_STT_PER_MINUTE": 0.0077,
    "PRICE_DEEPGRAM_TTS_PER_1K_CHARS": 0.030,
    "PRICE_BEDROCK_LLM_INPUT_PER_MTOK": 3.0,
    "PRICE_BEDROCK_LLM_OUTPUT_PER_MTOK": 15.0,
    "PRICE_BEDROCK_LLM_CACHE_READ_PER_MTOK": 0.30,
    "PRICE_BEDROCK_LLM_CACHE_WRITE_PER_MTOK": 3.75,
}


def two_minute_call() -> CostMeter:
    meter = CostMeter()
    meter.add_stt("deepgram", seconds=90.0)
    meter.add_stt("deepgram", seconds=30.0)
    meter.add_tts("deepgram", characters=600, audio_bytes=8000 * 30)
    meter.add_tts("deepgram", characters=400, audio_bytes=8000 * 20)
    meter.add_llm("bedrock", Usage(input_tokens=1_000_000, output_tokens=100_000,
                                   cache_read_tokens=2_000_000, cache_write_tokens=0))
    meter.add_llm("bedrock", Usage(input_tokens=0, output_tokens=0, cache_read_tokens=0,
                                   cache_write_tokens=400_000))
    return meter


def test_estimate_prices_each_kind_per_provider_and_sums_the_total():
    # given two minutes of audio, 1,000 characters spoken, and tokens incl. cache traffic
    meter = two_minute_call()

    # when priced
    cost = estimate_cost(meter, PRICES)

    # then each section carries its quantities and price, and the total adds up
    assert cost["stt"] == {"deepgram": {"seconds": 120.0, "usd": pytest.approx(0.0154)}}
    assert cost["tts"] == {"deepgram": {"characters": 1000, "seconds": 50.0,
                                        "usd": pytest.approx(0.03)}}
    assert cost["llm"]["bedrock"] == {
        "input_tokens": 1_000_000, "output_tokens": 100_000, "cache_read_tokens": 2_000_000,
        "cache_write_tokens": 400_000,
        "usd": pytest.approx(3.0 + 1.5 + 0.6 + 1.5),
        # the share of the prompt read from the cache: 2.0 of 1.0 + 2.0 + 0.4 million
        "cache_hit_ratio": 0.588}
    assert cost["total_usd"] == pytest.approx(0.0154 + 0.03 + 6.6)
    assert (cost["currency"], cost["estimate"]) == ("USD", True)


def test_providers_without_prices_cost_nothing():
    # given the offline providers served the call
    meter = CostMeter()
    meter.add_stt("pocketsphinx", seconds=60)
    meter.add_llm("offline", Usage(input_tokens=10, output_tokens=10))

    # when priced, then they are listed at zero
    cost = estimate_cost(meter, PRICES)
    assert cost["stt"]["pocketsphinx"]["usd"] == 0
    assert cost["total_usd"] == 0


def test_meter_uses_the_configured_prices_and_settings_override_defaults(settings):
    # given an operator's negotiated STT rate
    settings.PRICE_DEEPGRAM_STT_PER_MINUTE = 0.004
    meter = CostMeter()
    meter.add_stt("deepgram", seconds=60)

    # when priced from the settings
    cost = meter.estimate()

    # then the override wins and the list-price defaults fill the rest
    assert cost["stt"]["deepgram"]["usd"] == pytest.approx(0.004)
    assert price_settings()["PRICE_BEDROCK_LLM_OUTPUT_PER_MTOK"] == 15.0
