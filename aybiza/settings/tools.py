"""Tools: limits on what a tool's HTTP reply may bring into a call, and in-process workers."""

from .env import env

# Characters of a tool's result handed to the brain (and stored); the rest is cut.
TOOLS_RESULT_MAX_CHARS: int = env.int("TOOLS_RESULT_MAX_CHARS", default=4000)
# Bytes read from a tool's HTTP reply before it is refused as too large.
TOOLS_MAX_RESPONSE_BYTES: int = env.int("TOOLS_MAX_RESPONSE_BYTES", default=1_000_000)
# Threads running tool calls in-process (embedded default, no Celery worker).
TOOLS_EAGER_WORKERS: int = env.int("TOOLS_EAGER_WORKERS", default=8)
