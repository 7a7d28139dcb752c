"""PCI-safe keypad capture for a tool's secure argument (a card number): recording paused, the
recogniser closed, digits never in a transcript, event or log, kept in memory only for the one
tool call that needs them."""

from __future__ import annotations

import asyncio

from aybiza.core.spoken import luhn_valid

SECURE_CAPTURE_TIMEOUT_S = 60.0
SECURE_CAPTURE_ATTEMPTS = 3
DEFAULT_SECURE_PROMPT = "Please enter the number on your keypad, then press the pound key."


class SecureKeypad:
    """CallSession's secure step, run from a tool call that names a secure argument."""

    async def _secure_capture(self, spec) -> str | None:
        """PCI-safe keypad entry: recording paused, speech not transcribed, digits kept only
        in memory for the tool call. Returns the digits, or None after failed attempts."""
        recorder = self._recorder
        was_paused = recorder.paused if recorder is not None else True
        if recorder is not None:
            recorder.paused = True
        self._close_stt_for_capture()
        prompt = spec.secure_prompt or DEFAULT_SECURE_PROMPT
        self.store.record_event("secure_capture_started", {"argument": spec.secure_argument},
                                self._offset_ms(self._now()))
        outcome = "failed"
        try:
            for attempt in range(SECURE_CAPTURE_ATTEMPTS):
                self._secure = SecureCapture()
                speaker = self._speaker
                if speaker is not None:
                    speaker.say(prompt if attempt == 0
                                else "That number doesn't look right. " + prompt)
                try:
                    digits = await asyncio.wait_for(self._secure.done,
                                                    SECURE_CAPTURE_TIMEOUT_S)
                except TimeoutError:
                    outcome = "timeout"
                    return None
                if secure_digits_valid(spec.secure_argument, digits):
                    outcome = "captured"
                    return digits
            return None
        finally:
            self._secure = None
            if recorder is not None:
                recorder.paused = was_paused
            self.store.record_event("secure_capture_ended", {"outcome": outcome},
                                    self._offset_ms(self._now()))

    def _close_stt_for_capture(self) -> None:
        if self._stt_open:
            self._stt_open = False
            self._stt.finalize()
        self._caller_parts.clear()
        self._preroll.clear()


class SecureCapture:
    """Digits keyed during a secure step: '*' starts over, '#' submits."""

    def __init__(self) -> None:
        self._digits: list[str] = []
        self.done: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def key(self, digit: str) -> None:
        if self.done.done():
            return
        if digit == "#":
            self.done.set_result("".join(self._digits))
        elif digit == "*":
            self._digits.clear()
        elif digit.isdigit():
            self._digits.append(digit)


def secure_digits_valid(argument: str, digits: str) -> bool:
    """Plausible input for the argument: a card number passes Luhn, anything else is non-empty."""
    if not digits.isdigit():
        return False
    if "card" not in argument.lower():
        return True
    if not 12 <= len(digits) <= 19:
        return False
    return luhn_valid(digits)

