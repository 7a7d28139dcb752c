"""CallSession's answer to an answering machine on a call the agent placed.

Twilio's asynchronous machine detection reports while the call goes on (the agent greets at
once: no dead air for a person). With `DetectMessageEnd` a machine is reported when its
greeting ends, at the beep: the agent stops whatever it was saying, leaves its voicemail
message, and hangs up. From then on nothing the "caller" says (a machine's tail, a fax tone)
starts a turn or interrupts the message.
"""

from __future__ import annotations

from calls.models import Outcome

MACHINE_RESULTS = frozenset({"machine_start", "machine_end_beep", "machine_end_silence",
                             "machine_end_other", "fax"})


class AnsweringMachine:
    _leaving_voicemail = False

    def on_answered_by(self, answered_by: str) -> None:
        """Twilio's `AnsweredBy` for this call (a person: nothing changes)."""
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
