"""Call control every LLM agent has without binding a tool: hanging up, forgetting a caller
who asks (`forget_caller`: memory off and cleared, an erasure request filed), and remembering
(`remember` / `recall`, when the agent remembers callers).

The session handles `end_call` itself (no Celery round trip, no Twilio call mid-sentence): the
call ends once the turn's words have been played, through the consumer's hang-up (Twilio's REST
API when configured, else closing the stream). Transfers stay a bound tool (`transfer_call`):
they need destinations only the tenant can give.
"""

from __future__ import annotations

from calls.realtime.providers.llm.base import ToolSpec

END_CALL = "end_call"
# The built-in transfer tool (tools/builtins/telephony.py): bound by the tenant, not added here.
TRANSFER_CALL = "transfer_call"
TRANSFER_SUMMARY_MAX_CHARS = 500  # what the person is told (the tool's `summary` argument)
END_CALL_SPEC = ToolSpec(
    name=END_CALL,
    description="Hang up the phone call. Use it once the conversation is over and you have "
                "said goodbye (or the caller said goodbye), never in the middle of a request.",
    parameters={"type": "object", "properties": {}},
)
FORGET_CALLER = "forget_caller"
FORGET_CALLER_SPEC = ToolSpec(
    name=FORGET_CALLER,
    description="The caller asks you to forget them, not to remember them, or to delete their "
                "data: call this, then tell them it is done. Nothing is remembered about them "
                "from now on, and a request to erase their data is passed to the team.",
    parameters={"type": "object", "properties": {}},
)
FORGOTTEN = ("Done. I won't remember anything about you, and I've passed on your request to "
             "delete your information.")
# Long-term memory for language models (memory/): offered when the agent remembers callers and
# the caller may be remembered. Facts are written by the session's store, sealed per tenant.
REMEMBER = "remember"
RECALL = "recall"
MAX_MEMORY_KEY = 64
MAX_MEMORY_VALUE = 500
REMEMBER_SPEC = ToolSpec(
    name=REMEMBER,
    description="Remember a fact about this caller for their next calls (e.g. key "
                "'preferred_dentist', value 'Dr. Rivera'). Only what they would expect you to "
                "remember; never card numbers or passwords.",
    parameters={"type": "object", "required": ["key", "value"], "properties": {
        "key": {"type": "string", "maxLength": MAX_MEMORY_KEY},
        "value": {"type": "string", "maxLength": MAX_MEMORY_VALUE}}},
)
RECALL_SPEC = ToolSpec(
    name=RECALL,
    description="Look up what is remembered about this caller from earlier calls (all facts, "
                "or the one under `key`).",
    parameters={"type": "object", "properties": {"key": {"type": "string"}}},
)
# What the session answers itself (tool_use.py), never a tenant's tool.
BUILT_IN_TOOLS = frozenset({END_CALL, FORGET_CALLER, REMEMBER, RECALL})
# Said when the model hangs up without a word of goodbye in that turn.
GOODBYE_LINE = "Thank you for calling. Goodbye!"


def with_call_control(tools: list[ToolSpec], *, llm_provider: str,
                      memory: bool = False) -> list[ToolSpec]:
    """`tools` plus the built-in call control, for a language model (`memory`: and the
    remember/recall tools, when the caller may be remembered).

    The offline brain has its own goodbye and memory and would read a tool it does not need
    into its help line, so it gets the tools as they are."""
    if llm_provider == "offline":
        return tools
    names = {tool.name for tool in tools}
    built_in = (END_CALL_SPEC, FORGET_CALLER_SPEC, *((REMEMBER_SPEC, RECALL_SPEC) if memory
                                                    else ()))
    return [*tools, *(spec for spec in built_in if spec.name not in names)]
