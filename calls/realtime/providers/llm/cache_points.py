"""Where Bedrock prompt-cache points go, so that caching engages instead of being asked for in
vain (PROTOCOLS §3: `cachePoint` blocks in `toolConfig.tools`, `system` and message content).

A checkpoint caches everything before it (tools, then system, then messages) — but only once
that prefix reaches the model's minimum (1,024 tokens for Sonnet- and Opus-class models, more
for Haiku-class ones); below it Bedrock caches nothing. A short agent prompt never reaches it on
its own, so besides the stable prefix (tools, instructions, knowledge) a *rolling* point is
placed on the conversation: at the end of the exchange before the caller's newest words, once
everything up to there is long enough. Each turn then reads the prefix the turn before wrote
and writes a slightly longer one. At most four points per request (Bedrock refuses more): we
use three. Tokens are estimated at four characters each — it only decides whether a point can
pay, the bill comes from the usage Bedrock reports.
"""

from __future__ import annotations

import json
from typing import Any

CACHE_POINT = {"cachePoint": {"type": "default"}}
MAX_CACHE_POINTS = 4
CHARS_PER_TOKEN = 4
DEFAULT_MIN_TOKENS = 1024
# The smallest prefix each model family caches (Anthropic / Amazon model documentation).
MIN_TOKENS_BY_FAMILY = (("claude-haiku-4", 4096), ("claude-3-5-haiku", 2048),
                        ("claude-3-haiku", 2048), ("nova", 1000))


def min_cache_tokens(model: str) -> int:
    """The model's minimum cacheable prefix, in tokens."""
    model = model.lower()
    for family, tokens in MIN_TOKENS_BY_FAMILY:
        if family in model:
            return tokens
    return DEFAULT_MIN_TOKENS


def estimate_tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return len(text) // CHARS_PER_TOKEN


def place_cache_points(request: dict[str, Any], *, stable_system_blocks: int,
                       min_tokens: int) -> int:
    """Add cache points to a built Converse request, in place; returns how many were placed.

    `stable_system_blocks`: how many leading `system` blocks are the same on every turn of every
    call of the agent (the instructions and knowledge; memory and passages follow them).
    """
    placed = 0
    prefix = 0
    tools = (request.get("toolConfig") or {}).get("tools")
    if tools:
        prefix += estimate_tokens(tools)
        if prefix >= min_tokens:
            tools.append(CACHE_POINT)
            placed += 1
    system = request.get("system") or []
    stable, per_call = system[:stable_system_blocks], system[stable_system_blocks:]
    prefix += sum(estimate_tokens(block["text"]) for block in stable)
    if stable and prefix >= min_tokens:
        system.insert(len(stable), CACHE_POINT)
        placed += 1
    prefix += sum(estimate_tokens(block["text"]) for block in per_call)
    messages = request.get("messages") or []
    # The rolling point: after the last exchange before the caller's newest message.
    if len(messages) >= 2 and messages[-1]["role"] == "user" and placed < MAX_CACHE_POINTS:
        prefix += sum(estimate_tokens(message["content"]) for message in messages[:-1])
        if prefix >= min_tokens:
            messages[-2]["content"].append(CACHE_POINT)
            placed += 1
    return placed
