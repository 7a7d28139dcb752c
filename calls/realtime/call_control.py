"""Call control every LLM agent has without binding a tool: hanging up.

The session handles `end_call` itself (no Celery round trip, no Twilio call mid-sentence): the
call ends once the turn's words have been played, through the consumer's hang-up (Twilio's REST
API when configured, else closing the stream). Transfers stay a bound tool (`transfer_call`):
they need destinations only the tenant can give.
"""

from __future__ import annotations

from calls.realtime.providers.llm.base import ToolSpec

END_CALL = "end_call"
END_CALL_SPEC = ToolSpec(
    name=END_CALL,
    description="Hang up the phone call. Use it once the conversation is over and you have "
                "said goodbye (or the caller said goodbye), never in the middle of a request.",
    parameters={"type": "object", "properties": {}},
)
# Said when the model hangs up without a word of goodbye in that turn.
GOODBYE_LINE = "Thank you for calling. Goodbye!"


def with_call_control(tools: list[ToolSpec], *, llm_provider: str) -> list[ToolSpec]:
    """`tools` plus the built-in call control, for a language model.

    The offline brain has its own goodbye and would read a tool it does not need into its help
    line, so it gets the tools as they are."""
    if llm_provider == "offline" or any(tool.name == END_CALL for tool in tools):
        return tools
    return [*tools, END_CALL_SPEC]
