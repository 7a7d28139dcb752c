"""Recording consent: with `recording_mode="after_consent"` nothing is recorded until the caller
says yes (or presses 1); an unclear answer is asked once more; every answer is stored with the
disclosure text the caller heard."""

from __future__ import annotations

from aybiza.core.spoken import yes_no


class Consent:
    """CallSession's consent step, between the disclosure and the greeting."""

    def _consent(self, *, granted: bool, method: str) -> None:
        record = getattr(self.store, "record_consent", None)
        if record is not None:
            disclosure = " ".join(line for line in (self.config.recording_disclosure,
                                                    self.config.consent_prompt) if line)
            record(kind="recording", granted=granted, method=method, disclosure_text=disclosure)

    def _answer_consent(self, text: str) -> None:
        """The caller's answer to the recording question: yes, no, or unclear (asked once)."""
        answer = consent_answer(text)
        if answer is None and not self._consent_asked_twice:
            self._consent_asked_twice = True
            self._start_turn(self._speak_lines(
                ["Sorry, I didn't catch that. " + self.config.consent_prompt], kind="consent"))
            return
        granted = bool(answer)
        self._awaiting_consent = False
        self._consent(granted=granted, method="dtmf" if text.startswith("[DTMF") else "speech")
        if granted and self._recorder is not None:
            self._recorder.paused = False
        lead = "Thank you." if granted else "No problem, this call will not be recorded."
        self._greet([lead])


def consent_answer(text: str) -> bool | None:
    """Yes (True), no (False) or unclear (None) from a spoken answer or `[DTMF 1]`/`[DTMF 2]`."""
    if text.startswith("[DTMF"):
        digits = text[6:-1].strip("#")
        return {"1": True, "2": False}.get(digits[:1])
    return yes_no(text)

