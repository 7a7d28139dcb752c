"""CallSession's answer to an answering machine on a call the agent placed.

Twilio's asynchronous machine detection reports while the call goes on (the agent greets at
once: no dead air for a person). With `DetectMessageEnd` a machine is reported when its
greeting ends, at the beep: the agent stops whatever it was saying, leaves its voicemail
message, and hangs up. From then on nothing the "caller" says (a machine's tail, a fax tone)
starts a turn or interrupts the message.

Until the verdict comes, a reply waits for it (at most until the callee has been quiet
VERDICT_WAIT_S): a machine's greeting pauses between its sentences like a person ending a turn, and
an answer to "you have reached Sam" would be thinking, tools and speech spent on a machine —
and, with a fast recogniser, start playing before the beep. A person's "Hello?" is followed by
the same silence Twilio waits for to call them human, so they wait no longer than detection
does anyway.
"""

from __future__ import annotations

import asyncio

from calls.models import Outcome

MACHINE_RESULTS = frozenset({"machine_start", "machine_end_beep", "machine_end_silence",
                             "machine_end_other", "fax"})
# Twilio's MachineDetectionSpeechEndThreshold default: the silence after speech at which it
# calls the speaker a person.
VERDICT_WAIT_S = 1.2


class AnsweringMachine:
    _leaving_voicemail = False
    _verdict: asyncio.Event | None = None

    def on_answered_by(self, answered_by: str) -> None:
        """Twilio's `AnsweredBy` for this call (a person: nothing changes)."""
        self._awaiting_verdict = False
        if self._verdict is not None:
            self._verdict.set()
        if answered_by not in MACHINE_RESULTS or self.finished or self._ending \
                or self._leaving_voicemail:
            return
        self._leaving_voicemail = True
        self.store.record_event("answering_machine", {"answered_by": answered_by},
                                self._offset_ms(self._now()))
        message = self.config.voicemail_message
        if answered_by == "fax" or not message:
            self._end(Outcome.MACHINE, "machine")
            return
        self._pending_outcome = Outcome.VOICEMAIL
        # Replaces the running turn (its audio is cleared), then hangs up once played.
        self._start_turn(self._speak_lines([message], kind="voicemail", end_call=True))

    async def _machine_verdict(self, caller_end_t: float) -> None:
        """Before answering words said at `caller_end_t`: wait for detection's verdict, if it
        is still to come, until the callee has been quiet VERDICT_WAIT_S — a machine's greeting
        that goes on after a pause keeps the reply waiting, as it keeps detection listening. A
        verdict that does not come in time will not come for later turns either (detection is
        off or lost), so those are answered at once."""
        if not self._awaiting_verdict:
            return
        if self._verdict is None:
            self._verdict = asyncio.Event()
        waited_from = self._now()
        while not self._verdict.is_set():
            quiet_since = max(caller_end_t, self._last_voice_t)
            if self._caller_speaking:
                quiet_since = self._now()
            try:
                # Not wait_for: in 3.11 it swallows a cancel that lands as the verdict arrives,
                # and the voicemail turn cancels this reply at that very moment.
                async with asyncio.timeout_at(quiet_since + VERDICT_WAIT_S):
                    await self._verdict.wait()
            except TimeoutError:
                if self._caller_speaking or self._last_voice_t > quiet_since:
                    continue  # they spoke again meanwhile: wait from their new last sound
                self._awaiting_verdict = False
                break
        self.metrics["machine_verdict_wait_ms"] += int((self._now() - waited_from) * 1000)
