"""Tools: limits on what a tool's HTTP reply may bring into a call, and in-process workers."""

from .env import env

# Characters of a tool's result handed to the brain (and stored); the rest is cut.
TOOLS_RESULT_MAX_CHARS: int = env.int("TOOLS_RESULT_MAX_CHARS", default=4000)
# Bytes read from a tool's HTTP reply before it is refused as too large.
TOOLS_MAX_RESPONSE_BYTES: int = env.int("TOOLS_MAX_RESPONSE_BYTES", default=1_000_000)
# Threads running tool calls in-process (embedded default, no Celery worker).
TOOLS_EAGER_WORKERS: int = env.int("TOOLS_EAGER_WORKERS", default=8)
# Tool tasks' time limits (Celery prefork workers): well under the 30 s a live call waits for a
# result. At the soft limit the run stops and reports a timeout; at the hard one its process is
# killed, the run is recorded as timed out and the task is not delivered again.
TOOLS_TASK_SOFT_TIME_LIMIT_S: int = env.int("TOOLS_TASK_SOFT_TIME_LIMIT_S", default=20)
TOOLS_TASK_TIME_LIMIT_S: int = env.int("TOOLS_TASK_TIME_LIMIT_S", default=25)
# Arguments a tool takes (from the brain, or a test run): JSON size and one string's length.
TOOLS_MAX_ARGUMENTS_CHARS: int = env.int("TOOLS_MAX_ARGUMENTS_CHARS", default=16_000)
TOOLS_MAX_ARGUMENT_STRING_CHARS: int = env.int("TOOLS_MAX_ARGUMENT_STRING_CHARS", default=4000)
