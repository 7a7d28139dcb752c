"""The offline agent's expected answers: the brain's question tells the recogniser what the
caller's next turn is likely to be, and pocketsphinx leans toward it for that turn (real
decoders on hibari's phone-band speech, the dental demo agent's vocabulary)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from agents.demo_agents import DENTAL
from calls.realtime.audio import FRAME_BYTES, ULAW_SILENCE, frames
from calls.realtime.loader import stt_vocabulary
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
    from calls.realtime.providers.llm.offline.answers import name_phrases

    # given a name that the vocabulary alone hears as "jack aching" (a bare "No." was
    # heard as "now" until the recogniser was adapted to the phone line; it is heard as said
    # now). Hibari's rendition differs a little by CPU: "Grace Walker", used here before, is
    # heard as "great walker" on some machines even with the names expected.
    name = await phone_band("Jessica King.", "hibari")

    plain = await heard([name], [None])
    texts = await heard([name, name, name], [name_phrases(), None, ()])

    # then a question for a name makes it "jessica king", for the next turns too until another
    # question (here: one expecting nothing in particular) puts the vocabulary's own model back
    assert plain[0] != "jessica king", plain
    assert texts[:2] == ["jessica king", "jessica king"], texts
    assert texts[2] != "jessica king", texts


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


def test_calls_opening_together_share_one_domain_model_written_once(monkeypatch):
    from calls.realtime.providers.stt import pocketsphinx

    models = pocketsphinx._Models()
    real_write = pocketsphinx.write_domain_model
    builds = []

    def slow_write(*args, **kwargs):  # a build long enough for the others to arrive meanwhile
        builds.append(args)
        time.sleep(0.2)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(pocketsphinx, "write_domain_model", slow_write)
    together = threading.Barrier(4)

    def open_a_call(_: int) -> pocketsphinx.DomainModel:
        together.wait()
        return models.domain_model(["book an appointment", "can i get teeth whitening"])

    # when four calls of one agent open at the same moment
    with ThreadPoolExecutor(4) as pool:
        opened = list(pool.map(open_a_call, range(4)))

    # then the model's files are written once (never rewritten under another call's decoder)
    # and every call gets that one model, whole
    assert len(builds) == 1
    assert all(model is opened[0] for model in opened)
    with open(opened[0].dict_path, encoding="utf-8") as words:
        assert "whitening" in words.read()


def test_a_date_s_answers_name_every_month():
    from aybiza.core.hours import MONTH_NAMES
    from calls.realtime.providers.llm.offline.answers import answer_phrases

    words = " ".join(answer_phrases("when", {"type": "string", "format": "date-time"})).split()
    # a read-back's "December 7" is corrected with a month: every one can be heard
    assert [month for month in MONTH_NAMES if month.lower() not in words] == []


@pytest.mark.asyncio
async def test_a_date_question_expects_the_clock_s_words():
    from calls.realtime.providers.llm.offline.answers import answer_phrases

    # given the brain asking for a day and time, and a caller answering with the clock's words
    expected = tuple(answer_phrases("when", {"type": "string", "format": "date-time"}))
    turns = [await phone_band(line, "hibari") for line in ("Two o'clock.", "Friday at two pm.")]

    # then they are heard as said ("what on day" and "friday at two p am" without them)
    assert await heard(turns, [expected, None]) == ["two o'clock", "friday at two pm"]


def test_a_read_back_expects_corrections_after_a_no():
    from calls.realtime.providers.llm.offline.dialogue import _Flow, _State, expected_answers

    # given the brain reading a booking back to the caller
    conversation = conversation_for(DENTAL)
    state = _State(flow=_Flow(tool=0, args={"when": "2026-12-10T11:00:00"}, confirming=True))

    # then a yes, a no, a new time and a new time after "no, make it" are all expected
    expected = expected_answers(conversation, state)
    assert {"yes", "no", "friday at one", "no make it friday at one",
            "actually two o'clock"} <= set(expected)


@pytest.mark.asyncio
async def test_a_closed_choice_is_heard_as_one_of_its_options():
    # given the help desk asking how urgent a fault is, and a caller answering "Low."
    from agents.demo_agents import HELP_DESK

    base = conversation_for(HELP_DESK)
    stream = await PocketsphinxSTT().open_stream(STTOptions(vocabulary=stt_vocabulary(
        base.knowledge, base.tools, HELP_DESK.fields["recognition_keywords"])))
    try:
        stream.expect(("low", "normal", "urgent"))
        for frame in frames(SILENCE + await phone_band("Low.", "hibari") + SILENCE):
            stream.feed(frame)
        stream.finalize()
        async for transcript in stream.transcripts():
            if transcript.speech_final:
                break
    finally:
        await stream.aclose()
    # then it is heard as the option ("my" when the options weighed no more than the others)
    assert transcript.text == "low"


@pytest.mark.asyncio
async def test_a_name_question_expects_names_the_agent_s_own_words_lack():
    from calls.realtime.providers.llm.offline.answers import name_phrases

    # given callers answering the brain's question for a name with names in no agent's words
    turns = [await phone_band(line, "hibari") for line in ("Laura Bennett.", "Gary Nelson.")]

    # then with the names expected they are heard as said: the expectation's words join the
    # recogniser's dictionary (without that, an expected word it lacks could never be heard)
    plain = await heard(turns, [None, None])
    assert await heard(turns, [name_phrases(), None]) == ["laura bennett", "gary nelson"]
    assert plain != ["laura bennett", "gary nelson"], plain


def test_only_the_question_for_a_person_s_name_expects_names():
    from agents.demo_agents import RESTAURANT
    from calls.realtime.providers.llm.offline.answers import is_person_name, name_phrases
    from calls.realtime.providers.llm.offline.dialogue import _Flow, _State, expected_answers

    # given the restaurant's booking with the day and the party size, its name still missing
    conversation = conversation_for(RESTAURANT)
    args = {"when": "2026-12-11T19:00:00", "party_size": 4}
    asking = expected_answers(conversation, _State(flow=_Flow(tool=0, args=args)))
    reading_back = expected_answers(
        conversation, _State(flow=_Flow(tool=0, args={**args, "name": "Sam Lee"},
                                        confirming=True)))

    # then the question for the name expects names, alone and with a surname; the read-back
    # does not (thousands of names would drown its yes and no), nor does the agent's own model
    a_pair = next(phrase for phrase in asking if phrase.startswith("mary "))
    assert {"mary", "alex", "sam"} <= set(asking) == set(name_phrases())
    assert a_pair not in reading_back and "yes" in reading_back
    assert a_pair not in stt_vocabulary(conversation.knowledge, conversation.tools)
    # and only a person's name is one: not a company's, a login's or a file's
    text = {"type": "string"}
    assert [is_person_name(n, text) for n in ("name", "guest_name", "full_name")] == [True] * 3
    assert not any(is_person_name(n, text) for n in ("company_name", "user_name", "filename"))
    assert not is_person_name("name", {"type": "string", "enum": ["a", "b"]})

