"""The offline agent's expected answers: the brain's question tells the recogniser what the
caller's next turn is likely to be, and pocketsphinx leans toward it for that turn (real
decoders on hibari's phone-band speech, the dental demo agent's vocabulary)."""

from __future__ import annotations

import pytest

from agents.demo_agents import DENTAL
from calls.realtime.audio import FRAME_BYTES, ULAW_SILENCE, frames
from calls.realtime.loader import stt_vocabulary
from calls.realtime.providers.llm.offline.answers import YES_NO_PHRASES
from calls.realtime.providers.stt.base import STTOptions
from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT
from calls.realtime.wer import phone_band
from learning.quality.text import conversation_for

SILENCE = bytes([ULAW_SILENCE]) * FRAME_BYTES * 15


async def heard(turns: list[bytes], expectations: list[tuple[str, ...] | None]) -> list[str]:
    """Each turn through one stream; before a turn, `expect` its expectation (None: no call)."""
    base = conversation_for(DENTAL)
    stream = await PocketsphinxSTT().open_stream(
        STTOptions(vocabulary=stt_vocabulary(base.knowledge, base.tools)))
    texts = []
    try:
        for turn, expected in zip(turns, expectations, strict=True):
            if expected is not None:
                stream.expect(expected)
            for frame in frames(SILENCE + turn + SILENCE):
                stream.feed(frame)
            stream.finalize()
            async for transcript in stream.transcripts():
                if transcript.speech_final:
                    texts.append(transcript.text)
                    break
    finally:
        await stream.aclose()
    return texts


@pytest.mark.asyncio
async def test_an_expectation_lasts_until_the_next_question_and_nothing_expected_undoes_it():
    # given a bare "No." that the vocabulary alone hears as "now"
    no = await phone_band("No.", "hibari")

    plain = await heard([no], [None])
    texts = await heard([no, no, no], [YES_NO_PHRASES, None, ()])

    # then a yes-or-no question makes it "no", for the next turns too until another question
    # (here: one expecting nothing in particular) puts the vocabulary's own model back
    assert texts == ["no", "no", plain[0]], (plain, texts)
    assert plain[0] != "no"


def test_a_stream_keeps_a_few_expectations_and_the_one_in_use():
    from calls.realtime.providers.stt.pocketsphinx import MAX_EXPECTATION_SEARCHES

    # given a stream's recogniser (no general model: only the domain decoder matters here)
    recognizer = PocketsphinxSTT(use_general_model=False)._recognizer(
        ["when are you open", "book an appointment"])
    try:
        # when a long call asks more different questions than it keeps searches for
        asked = [(f"option {word}",) for word in ("one", "two", "three", "four", "five", "six",
                                                    "seven", "eight")]
        for phrases in asked:
            recognizer.expect(phrases)
        # then the oldest are dropped, the last one is in use, and going back to the vocabulary's
        # own model and to an old question again both work
        assert len(recognizer._searches) == MAX_EXPECTATION_SEARCHES
        assert recognizer.domain.current_search() == recognizer._searches[asked[-1]]
        recognizer.expect(())
        assert recognizer._active_search is None
        recognizer.expect(asked[0])
        assert recognizer.domain.current_search() == recognizer._searches[asked[0]]
    finally:
        recognizer.release()


def test_an_expectation_that_cannot_be_built_leaves_recognition_as_it_was(monkeypatch):
    from calls.realtime.providers.stt import pocketsphinx

    recognizer = PocketsphinxSTT(use_general_model=False)._recognizer(["book an appointment"])
    try:
        # given the model files cannot be written (a full disk, a removed temp directory)
        def cannot_write(vocabulary):
            raise OSError("No space left on device")

        monkeypatch.setattr(pocketsphinx._MODELS, "domain_model", cannot_write)
        # when the agent's question expects an answer, then the vocabulary's own model goes on
        recognizer.expect(("yes", "no"))
        assert recognizer._active_search is None
        assert recognizer.domain.current_search() == "_default"
    finally:
        recognizer.release()
