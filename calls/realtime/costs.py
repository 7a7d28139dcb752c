"""What a call cost: usage counted per provider, priced from the `PRICE_*` settings.

`CostMeter` is the per-call accumulator (the session adds to it at turn boundaries, never per
frame); `estimate_cost` is the pure pricing function. The result is the JSON stored in
`Call.cost`. Prices are configurable estimates from public list prices
(aybiza/settings/providers.py); a provider without prices (the offline ones) costs 0.

Setting names: ``PRICE_<PROVIDER>_STT_PER_MINUTE``, ``PRICE_<PROVIDER>_TTS_PER_1K_CHARS``,
``PRICE_<PROVIDER>_LLM_{INPUT,OUTPUT,CACHE_READ,CACHE_WRITE}_PER_MTOK``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from calls.realtime.frames import BYTES_PER_S
from calls.realtime.providers.llm.base import Usage

ULAW_BYTES_PER_SECOND = BYTES_PER_S
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write")


@dataclass(slots=True)
class CostMeter:
    """Usage of one call, per provider name (a failover chain may use several)."""

    stt_seconds: dict[str, float] = field(default_factory=dict)
    tts_characters: dict[str, int] = field(default_factory=dict)
    tts_seconds: dict[str, float] = field(default_factory=dict)
    llm_tokens: dict[str, dict[str, int]] = field(default_factory=dict)

    def add_stt(self, provider: str, *, seconds: float) -> None:
        """Audio streamed to the recogniser (count frames in the hot path, add them here)."""
        self.stt_seconds[provider] = self.stt_seconds.get(provider, 0.0) + seconds

    def add_tts(self, provider: str, *, characters: int, audio_bytes: int = 0) -> None:
        """Text sent to the synthesiser and the 8 kHz µ-law audio it returned."""
        self.tts_characters[provider] = self.tts_characters.get(provider, 0) + characters
        self.tts_seconds[provider] = (self.tts_seconds.get(provider, 0.0)
                                      + audio_bytes / ULAW_BYTES_PER_SECOND)

    def add_llm(self, provider: str, usage: Usage) -> None:
        """One `respond` round's `Done.usage`."""
        tokens = self.llm_tokens.setdefault(provider, dict.fromkeys(TOKEN_KINDS, 0))
        tokens["input"] += usage.input_tokens
        tokens["output"] += usage.output_tokens
        tokens["cache_read"] += usage.cache_read_tokens
        tokens["cache_write"] += usage.cache_write_tokens

    def estimate(self, prices: Mapping[str, float] | None = None) -> dict[str, Any]:
        """`estimate_cost` of this meter, with the configured prices unless given."""
        return estimate_cost(self, price_settings() if prices is None else prices)


def llm_usd(provider: str, usage: Usage) -> float:
    """What one model round cost at `provider`'s configured prices (a routed turn's cost)."""
    meter = CostMeter()
    meter.add_llm(provider, usage)
    return estimate_cost(meter, price_settings())["llm"][provider]["usd"]


def estimate_cost(meter: CostMeter, prices: Mapping[str, float]) -> dict[str, Any]:
    """Price a call's usage. `prices` maps setting names (``PRICE_…``) to USD; missing = 0.

    Returns ``{"currency": "USD", "estimate": True, "stt": {provider: {...}}, "tts": {...},
    "llm": {...}, "total_usd": float}``; every section carries its quantities and its `usd`.
    """

    def price(provider: str, kind: str, unit: str) -> float:
        return float(prices.get(f"PRICE_{provider.upper()}_{kind}_{unit}", 0.0))

    stt = {
        name: {"seconds": round(seconds, 3),
               "usd": seconds / 60 * price(name, "STT", "PER_MINUTE")}
        for name, seconds in meter.stt_seconds.items()
    }
    tts = {
        name: {"characters": characters,
               "seconds": round(meter.tts_seconds.get(name, 0.0), 3),
               "usd": characters / 1000 * price(name, "TTS", "PER_1K_CHARS")}
        for name, characters in meter.tts_characters.items()
    }
    llm = {
        name: {**{f"{kind}_tokens": count for kind, count in tokens.items()},
               "usd": sum(count / 1_000_000 * price(name, "LLM", f"{kind.upper()}_PER_MTOK")
                          for kind, count in tokens.items()),
               **_cache_hit_ratio(tokens)}
        for name, tokens in meter.llm_tokens.items()
    }
    total = 0.0
    for section in (stt, tts, llm):
        for entry in section.values():
            total += entry["usd"]
            entry["usd"] = round(entry["usd"], 6)
    return {"currency": "USD", "estimate": True, "stt": stt, "tts": tts, "llm": llm,
            "total_usd": round(total, 6)}


def price_settings() -> dict[str, float]:
    """Every `PRICE_*` value: the settings', falling back to aybiza/settings/providers.py."""
    from aybiza.settings import providers as defaults

    names = {n for n in dir(defaults) if n.startswith("PRICE_")}
    names |= {n for n in dir(settings) if n.startswith("PRICE_")}
    return {n: float(getattr(settings, n, getattr(defaults, n, 0.0))) for n in names}


def _cache_hit_ratio(tokens: Mapping[str, int]) -> dict[str, float]:
    """The share of the prompt read from the cache (input excludes cached tokens, as Bedrock
    reports it and the OpenAI-compatible adapter normalises it); nothing without a prompt."""
    read = tokens.get("cache_read", 0)
    prompt = tokens.get("input", 0) + read + tokens.get("cache_write", 0)
    return {"cache_hit_ratio": round(read / prompt, 3)} if prompt else {}


def combined_estimates(earlier: Mapping[str, Any], later: Mapping[str, Any]) -> dict[str, Any]:
    """Two estimates of one call's parts (before and after a warm transfer came back) as one:
    every quantity and price added per section and provider, the cache hit ratio recomputed."""
    combined: dict[str, Any] = {"currency": later.get("currency", "USD"), "estimate": True}
    for section in ("stt", "tts", "llm"):
        merged: dict[str, dict[str, Any]] = {}
        for part in (earlier.get(section) or {}, later.get(section) or {}):
            for provider, entry in part.items():
                into = merged.setdefault(provider, {})
                for key, value in entry.items():
                    if key != "cache_hit_ratio" and isinstance(value, int | float):
                        into[key] = round(into.get(key, 0) + value, 6)
        for entry in merged.values():
            if section == "llm":
                entry.update(_cache_hit_ratio({kind: int(entry.get(f"{kind}_tokens", 0))
                                               for kind in TOKEN_KINDS}))
        combined[section] = merged
    combined["total_usd"] = round(float(earlier.get("total_usd") or 0)
                                  + float(later.get("total_usd") or 0), 6)
    return combined
