"""Provider chains (failover budgets) and the price list behind each call's cost estimate."""

from .env import env

# The "instant" STT/LLM/TTS test doubles (tests, the bench): agents may select them only when
# this is on. Off in production settings (aybiza/settings/prod.py).
FAKE_PROVIDERS_ENABLED: bool = env.bool("FAKE_PROVIDERS_ENABLED", default=True)

# Time-to-first-byte budgets: a provider slower than this hands the turn to the next one in its
# chain. STT: opening the stream; LLM: first text or tool call; TTS: first audio chunk.
STT_TTFB_BUDGET_MS: int = env.int("STT_TTFB_BUDGET_MS", default=3000)
LLM_TTFB_BUDGET_MS: int = env.int("LLM_TTFB_BUDGET_MS", default=4000)
TTS_TTFB_BUDGET_MS: int = env.int("TTS_TTFB_BUDGET_MS", default=2000)

# Cost estimates in USD, from public pay-as-you-go list prices (mid-2025). They are estimates:
# override them with your negotiated rates. Providers without a price here cost 0 (offline ones).
# Deepgram nova-3 streaming, per audio minute.
PRICE_DEEPGRAM_STT_PER_MINUTE: float = env.float("PRICE_DEEPGRAM_STT_PER_MINUTE", default=0.0077)
# Deepgram Aura-2, per 1,000 characters.
PRICE_DEEPGRAM_TTS_PER_1K_CHARS: float = env.float("PRICE_DEEPGRAM_TTS_PER_1K_CHARS", default=0.030)
# Claude Sonnet 4 on Bedrock, per million tokens (cache write = 1.25x input, read = 0.1x).
PRICE_BEDROCK_LLM_INPUT_PER_MTOK: float = env.float("PRICE_BEDROCK_LLM_INPUT_PER_MTOK", default=3.0)
PRICE_BEDROCK_LLM_OUTPUT_PER_MTOK: float = env.float(
    "PRICE_BEDROCK_LLM_OUTPUT_PER_MTOK", default=15.0)
PRICE_BEDROCK_LLM_CACHE_READ_PER_MTOK: float = env.float(
    "PRICE_BEDROCK_LLM_CACHE_READ_PER_MTOK", default=0.30)
PRICE_BEDROCK_LLM_CACHE_WRITE_PER_MTOK: float = env.float(
    "PRICE_BEDROCK_LLM_CACHE_WRITE_PER_MTOK", default=3.75)
# The fast model of automatic model selection (`provider_options.llm.fast_model`; Claude Haiku
# 4.5 list prices): turns it answers are priced under `bedrock_fast`.
PRICE_BEDROCK_FAST_LLM_INPUT_PER_MTOK: float = env.float(
    "PRICE_BEDROCK_FAST_LLM_INPUT_PER_MTOK", default=1.0)
PRICE_BEDROCK_FAST_LLM_OUTPUT_PER_MTOK: float = env.float(
    "PRICE_BEDROCK_FAST_LLM_OUTPUT_PER_MTOK", default=5.0)
PRICE_BEDROCK_FAST_LLM_CACHE_READ_PER_MTOK: float = env.float(
    "PRICE_BEDROCK_FAST_LLM_CACHE_READ_PER_MTOK", default=0.10)
PRICE_BEDROCK_FAST_LLM_CACHE_WRITE_PER_MTOK: float = env.float(
    "PRICE_BEDROCK_FAST_LLM_CACHE_WRITE_PER_MTOK", default=1.25)
# A self-hosted OpenAI-compatible server: free by default, set your own per-token rates.
PRICE_OPENAI_LLM_INPUT_PER_MTOK: float = env.float("PRICE_OPENAI_LLM_INPUT_PER_MTOK", default=0.0)
PRICE_OPENAI_LLM_OUTPUT_PER_MTOK: float = env.float("PRICE_OPENAI_LLM_OUTPUT_PER_MTOK", default=0.0)
PRICE_OPENAI_LLM_CACHE_READ_PER_MTOK: float = env.float(
    "PRICE_OPENAI_LLM_CACHE_READ_PER_MTOK", default=0.0)
