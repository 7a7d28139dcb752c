"""The agent acting: a round of tool calls leaves the call through the session's tool runner
(Celery in production), secure arguments are keyed in first, `end_call` is answered here, and a
transfer or hang-up result fixes the call's outcome before Twilio ends the stream."""

from __future__ import annotations

from calls.models import Outcome
from calls.realtime.call_control import END_CALL, FORGET_CALLER, FORGOTTEN
from calls.realtime.providers.llm.base import ToolCall, ToolResult

TURN_FILLER = "One moment, please."


class ToolUse:
    """CallSession's tool rounds."""

    async def _run_tools(self, calls: list[ToolCall]) -> list[ToolResult]:
        now = self._now()
        self.store.record_event("tool_calls", {"calls": [{"id": c.id, "name": c.name}
                                                          for c in calls]}, self._offset_ms(now))
        if self._tools is None:
            return [ToolResult(c.id, c.name, "No tools are available on this call.", True)
                    for c in calls]
        refused: dict[str, ToolResult] = {}
        dispatch: list[ToolCall] = []
        for call in calls:
            if call.name == END_CALL:  # with other tools: they run, then the call ends
                refused[call.id] = hung_up(call)
                continue
            if call.name == FORGET_CALLER:  # handled here: the tenant binds no tool for it
                self.store.record_event("forget_requested", {}, self._offset_ms(self._now()))
                self.store.caller_asked_to_be_forgotten()
                refused[call.id] = ToolResult(call.id, call.name, {"message": FORGOTTEN})
                continue
            spec = self._tool_specs.get(call.name)
            if spec is not None and spec.secure_argument:
                digits = await self._secure_capture(spec)
                if digits is None:
                    refused[call.id] = ToolResult(
                        call.id, call.name, "The caller did not key in a valid number, so "
                        "nothing was done.", is_error=True)
                    continue
                # A copy: the conversation's ToolCall (what any brain sees) never holds them.
                call = ToolCall(call.id, call.name,
                                {**call.arguments, spec.secure_argument: digits})
            dispatch.append(call)
        ran = {r.call_id: r for r in await self._tools.run(dispatch)} if dispatch else {}
        results = [refused.get(c.id) or ran[c.id] for c in calls]
        for result in results:
            content = result.content if isinstance(result.content, dict) else {}
            # Twilio ends our stream after a transfer or hang-up tool: say why before it does.
            if not result.is_error and content.get("transferred"):
                self._pending_outcome = Outcome.TRANSFERRED
            elif not result.is_error and content.get("ended"):
                self._pending_outcome = self._pending_outcome or Outcome.AGENT_ENDED
        self.store.record_event(
            "tool_results",
            {"results": [{"id": r.call_id, "name": r.name, "is_error": r.is_error}
                         for r in results]},
            self._offset_ms(self._now()))
        return results

    def _filler_for(self, calls: list[ToolCall]) -> str:
        for call in calls:
            filler = self.config.tool_fillers.get(call.name)
            if filler:
                return filler
        return TURN_FILLER


def hung_up(call: ToolCall) -> ToolResult:
    return ToolResult(call.id, call.name, {"ended": True,
                                           "note": "The call ends after this reply is spoken."})

