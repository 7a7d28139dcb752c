"""The agent acting: a round of tool calls leaves the call through the session's tool runner
(Celery in production), secure arguments are keyed in first, the built-in call control
(`end_call`, `forget_caller`, `remember`, `recall`) is answered here, and a transfer or hang-up
result fixes the call's outcome before Twilio ends the stream."""

from __future__ import annotations

from calls.models import Outcome
from calls.realtime.call_control import (
    END_CALL,
    FORGET_CALLER,
    FORGOTTEN,
    MAX_MEMORY_KEY,
    MAX_MEMORY_VALUE,
    RECALL,
    REMEMBER,
    TRANSFER_CALL,
)
from calls.realtime.providers.llm.base import ToolCall, ToolResult

TURN_FILLER = "One moment, please."


class ToolUse:
    """CallSession's tool rounds."""

    async def _run_tools(self, calls: list[ToolCall]) -> list[ToolResult]:
        self._running_tools = True  # what live dashboards show (session.live_state)
        try:
            return await self._run_tool_round(calls)
        finally:
            self._running_tools = False

    async def _run_tool_round(self, calls: list[ToolCall]) -> list[ToolResult]:
        now = self._now()
        self.store.record_event("tool_calls", {"calls": [{"id": c.id, "name": c.name}
                                                          for c in calls]}, self._offset_ms(now))
        refused: dict[str, ToolResult] = {}
        dispatch: list[ToolCall] = []
        for call in calls:
            built_in = self._built_in(call)
            if built_in is not None:  # answered here: the tenant binds no tool for these
                refused[call.id] = built_in
                continue
            if self._tools is None:
                refused[call.id] = ToolResult(call.id, call.name,
                                              "No tools are available on this call.", True)
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
            if call.name == TRANSFER_CALL:  # Twilio may end our stream before it answers
                self._transfer_started = True
            dispatch.append(call)
        ran = ({r.call_id: r for r in await self._tools.run(dispatch)}
               if dispatch and self._tools is not None else {})
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

    def _built_in(self, call: ToolCall) -> ToolResult | None:
        """The result of a call-control tool the session answers itself (call_control.py), or
        None for the tenant's tools."""
        if call.name == END_CALL:  # with other tools: they run, then the call ends
            return hung_up(call)
        if call.name == FORGET_CALLER:
            self.store.record_event("forget_requested", {}, self._offset_ms(self._now()))
            self.store.caller_asked_to_be_forgotten()
            self.conversation.memory.clear()
            self.conversation.caller_name = ""
            self._forgotten = True
            return ToolResult(call.id, call.name, {"message": FORGOTTEN})
        if call.name == REMEMBER:
            return self._remember(call)
        if call.name == RECALL:
            key = str(call.arguments.get("key") or "").strip()
            facts = {k: v for k, v in self.conversation.memory.items() if not key or k == key}
            return ToolResult(call.id, call.name, {"facts": facts} if facts else {
                "message": "Nothing is remembered about this caller" + (
                    f" under {key!r}." if key else ".")})
        return None

    def _remember(self, call: ToolCall) -> ToolResult:
        key = call.arguments.get("key")
        value = call.arguments.get("value")
        if not isinstance(key, str) or not isinstance(value, str) or not key.strip() \
                or not value.strip() or len(key) > MAX_MEMORY_KEY or \
                len(value) > MAX_MEMORY_VALUE:
            return ToolResult(call.id, call.name, f"Give a key of at most {MAX_MEMORY_KEY} and "
                              f"a value of at most {MAX_MEMORY_VALUE} characters.", True)
        if self._forgotten or not self.config.remembers_caller:
            return ToolResult(call.id, call.name, "This caller is not remembered: nothing was "
                              "kept.", True)
        self.conversation.memory[key.strip()] = value.strip()
        self.store.remember(key=key.strip(), value=value.strip())
        return ToolResult(call.id, call.name, {"message": "Remembered for their next call."})

    def _filler_for(self, calls: list[ToolCall]) -> str:
        for call in calls:
            filler = self.config.tool_fillers.get(call.name)
            if filler:
                return filler
        return TURN_FILLER


def hung_up(call: ToolCall) -> ToolResult:
    return ToolResult(call.id, call.name, {"ended": True,
                                           "note": "The call ends after this reply is spoken."})

