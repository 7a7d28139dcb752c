"""Provider failures are never silence: a failed reply is apologised for and asked again; twice
in a row, or a recogniser that cannot hear at all, hands the caller to a person when the agent can
transfer, else asks them to call back. Refused credentials raise an alert event."""

from __future__ import annotations

import logging

from calls.models import Outcome
from calls.realtime.call_control import TRANSFER_CALL
from calls.realtime.providers.failover import auth_error_of
from calls.realtime.providers.llm.base import Message, ToolCall

logger = logging.getLogger("calls.realtime.session")

SORRY_REPEAT = "Sorry, I had a problem on my side. Could you say that again?"
CANNOT_HEAR = "I'm sorry, we're having a technical problem and I can't hear you right now."
CANNOT_ANSWER = "I'm sorry, we're having a technical problem on our side."
HANDING_OVER = "Let me put you through to a colleague."
CALL_BACK = "Please call back in a few minutes. Goodbye."


class Recovery:
    """CallSession's answers to a provider failure."""

    def _provider_failed(self, kind: str, exc: BaseException) -> None:
        self.metrics["provider_errors"] += 1
        at = self._offset_ms(self._now())
        self.store.record_event("provider_error", {"kind": kind, "error": str(exc)[:300]}, at)
        self._alert_if_auth(kind, exc, at)

    def _alert_if_auth(self, kind: str, exc: BaseException, at: int) -> None:
        """Refused credentials get their own event (once per vendor and call): the tenant's
        alerting picks it up through the event stream (calls.services.events_record)."""
        auth = auth_error_of(exc)
        if auth is None or (kind, auth.provider) in self._auth_alerts:
            return
        self._auth_alerts.add((kind, auth.provider))
        logger.error("%s provider %s refused our credentials on call %s (HTTP %s)", kind,
                     auth.provider, self.config.call_id, auth.status)
        self.store.record_event("provider_auth_failed", {
            "kind": kind, "provider": auth.provider, "status": auth.status}, at)

    async def _recover_turn(self) -> None:
        """A reply failed: apologise and ask again; twice in a row, hand over or say goodbye."""
        self._failed_turns_in_a_row += 1
        if self._failed_turns_in_a_row == 1:
            self.conversation.messages.append(Message(role="assistant", text=SORRY_REPEAT))
            await self._speak_lines([SORRY_REPEAT], kind="recovery")
            return
        await self._give_up_politely(CANNOT_ANSWER)

    async def _give_up_politely(self, apology: str) -> None:
        """Say what went wrong; transfer to a person when the agent has the tool, else ask the
        caller to call back and end the call (outcome `error`: it did not go as it should)."""
        self._pending_outcome = self._pending_outcome or Outcome.ERROR
        if TRANSFER_CALL in self._tool_specs and self._tools is not None:
            await self._speak_lines([apology, HANDING_OVER], kind="recovery")
            [result] = await self._run_tools([ToolCall(
                id="recovery-transfer", name=TRANSFER_CALL,
                arguments={"summary": "The assistant had a technical problem during this call."})])
            content = result.content if isinstance(result.content, dict) else {}
            if not result.is_error and content.get("transferred"):
                self._end(Outcome.TRANSFERRED, "transfer_after_provider_error")
                return
        await self._speak_lines([apology, CALL_BACK], kind="recovery", end_call=True)
