"""Recognition keywords: the words a business lists (products, places, jargon) reach the speech
recogniser of the version a call runs — Deepgram's keyterms and the offline recogniser's model,
in the sentences callers put them in — and initialisms CMUdict lacks are said letter by letter
(real decoders on hibari's phone-band speech, the help desk demo agent)."""

from __future__ import annotations

import itertools

import pytest
from pocketsphinx import get_model_path

from agents.demo_agents import DENTAL, HELP_DESK
from agents.services import agent_update
from agents.versions import agent_publish
from calls.realtime.audio import FRAME_BYTES, ULAW_SILENCE, frames
from calls.realtime.loader import load_stream, stt_vocabulary
from calls.realtime.providers.stt.base import STTOptions
from calls.realtime.providers.stt.pocketsphinx import PocketsphinxSTT
from calls.realtime.providers.stt.sphinx_lm import shared_lexicon
from calls.realtime.slot_phrases import KEYWORD_FRAMES, PROBLEM_FRAMES, problem_phrases
from calls.realtime.wer import phone_band
from calls.services import call_start
from calls.twilio import StreamToken
from learning.quality.text import conversation_for

SILENCE = bytes([ULAW_SILENCE]) * FRAME_BYTES * 15
_sids = itertools.count(1)


def lexicon():
    return shared_lexicon(get_model_path("en-us/cmudict-en-us.dict"))


def test_an_initialism_cmudict_lacks_is_said_letter_by_letter():
    words = lexicon()
    assert "vpn" not in words  # CMUdict itself has no entry
    assert words.sayable("vpn")
    assert words.pronunciations("vpn") == ["V IY P IY EH N"]
    # a word with a vowel that CMUdict lacks is not guessed as letters (it is dropped)
    assert not words.sayable("flibbertigibbet")
    assert words.pronunciations("flibbertigibbet") == []
    # nor is a run of consonants too long to be an initialism
    assert not words.sayable("bcdfgh")
    # a word CMUdict has keeps its own pronunciation
    assert words.pronunciations("laptop") == ["L AE P T AA P"]


def test_keywords_come_first_and_in_the_sentences_callers_say():
    base = conversation_for(HELP_DESK)
    vocabulary = stt_vocabulary(base.knowledge, base.tools, ["laptop", "Demo Connect"])
    # first: Deepgram takes the first 50 phrases as keyterms
    assert vocabulary[:2] == ["laptop", "Demo Connect"]
    for frame in KEYWORD_FRAMES:
        assert frame.format("laptop") in vocabulary
    # then, after what the agent's knowledge and tools give, in callers' sentences: alone, after
    # "my", after "about the"; and, as the help desk opens tickets, in fault reports
    # (the "could" of every "can I" request comes last)
    plain = stt_vocabulary(base.knowledge, base.tools)
    could = [phrase for phrase in plain if phrase.startswith("could ")]
    assert vocabulary[2:] == [
        *plain[:len(plain) - len(could)],
        *(frame.format(k) for k in ("laptop", "Demo Connect") for frame in KEYWORD_FRAMES),
        *(frame.format(k) for k in ("laptop", "Demo Connect") for frame in PROBLEM_FRAMES),
        *could]


def test_fault_reports_only_for_agents_that_take_problems():
    dental, desk = conversation_for(DENTAL), conversation_for(HELP_DESK)
    assert problem_phrases(dental.tools, ["crown"]) == []
    assert problem_phrases(desk.tools, ["printer"]) == [
        frame.format("printer") for frame in PROBLEM_FRAMES]


async def _heard(text: str, vocabulary: list[str]) -> str:
    stream = await PocketsphinxSTT().open_stream(STTOptions(vocabulary=vocabulary))
    try:
        for frame in frames(SILENCE + await phone_band(text, "hibari") + SILENCE):
            stream.feed(frame)
        stream.finalize()
        async for transcript in stream.transcripts():
            if transcript.speech_final:
                return transcript.text
    finally:
        await stream.aclose()
    return ""


@pytest.mark.asyncio
async def test_a_keyword_is_heard_that_the_agents_content_never_mentions():
    base = conversation_for(HELP_DESK)
    keywords = HELP_DESK.fields["recognition_keywords"]
    # ("My keyboard is broken.", used here before, is heard with "keyboard" even without the
    # keywords on some machines' rendition of hibari, whose arithmetic differs a little by CPU)
    assert "headset" in keywords
    without = await _heard("My headset is broken.", stt_vocabulary(base.knowledge, base.tools))
    with_keywords = await _heard("My headset is broken.",
                                 stt_vocabulary(base.knowledge, base.tools, keywords))
    assert "headset" not in without.split()
    assert "headset" in with_keywords.split()


@pytest.mark.asyncio
async def test_the_vpn_of_the_agents_own_question_can_now_be_heard():
    base = conversation_for(HELP_DESK)
    heard = await _heard("How do I get on the VPN?", stt_vocabulary(base.knowledge, base.tools))
    assert "vpn" in heard.split()


@pytest.mark.django_db
def test_a_call_listens_for_the_keywords_of_the_version_it_runs(tenant, agent, phone_number):
    # given keywords published, then changed in the draft
    agent_update(tenant=tenant, agent=agent, recognition_keywords=["Invisalign", "crown"])
    agent_publish(tenant=tenant, agent=agent, note="keywords")
    agent_update(tenant=tenant, agent=agent, recognition_keywords=["draft only"])

    # when a call starts
    call = call_start(tenant=tenant, phone_number=phone_number,
                      call_sid=f"CA{next(_sids):032d}", from_number="+15557654321",
                      to_number=phone_number.e164)
    stream = load_stream(token=StreamToken(call_id=call.id, tenant_id=call.tenant_id),
                         call_sid=call.call_sid, stream_sid=f"MZ{call.id:032d}")

    # then its recogniser listens for the published keywords, first, and not the draft's
    vocabulary = stream.config.stt_options.vocabulary
    assert vocabulary[:2] == ["Invisalign", "crown"]
    assert "my crown" in vocabulary
    assert "draft only" not in vocabulary
