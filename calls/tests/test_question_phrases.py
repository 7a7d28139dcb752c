"""Other ways callers ask an agent's knowledge questions, for the offline recogniser's model."""

from __future__ import annotations

from agents.demo_agents import HELP_DESK
from calls.realtime.loader import stt_vocabulary
from calls.realtime.question_phrases import could_phrases, question_phrases
from learning.quality.text import conversation_for


def test_a_how_to_question_is_also_a_need_and_a_request_for_help():
    phrases = question_phrases(["How do I reset my password?"])
    assert "i need to reset my password" in phrases
    assert "can you help me reset my password" in phrases
    assert "how can i reset my password" in phrases
    # the question as written is in the vocabulary already
    assert "how do i reset my password" not in phrases


def test_each_clause_of_a_question_is_rewritten_in_its_own_frame():
    phrases = question_phrases(["Where are you located? What is your address?"])
    assert "how do i find you" in phrases  # from "where are you located"
    assert "can you tell me your address" in phrases  # from "what is your address"
    # "is there a your address" would be nonsense: only "the" things are asked if they exist
    assert not any(p.startswith("is there") for p in phrases)


def test_do_you_have_is_not_turned_into_can_you_have():
    phrases = question_phrases(["Do you have a kids menu?"])
    assert "have you got a kids menu" in phrases
    assert not any(p.startswith("can you have") for p in phrases)


def test_opening_hours_and_prices_are_asked_in_their_usual_ways():
    hours = question_phrases(["When is the help desk open?"])
    assert {"what time does the help desk open", "what time does the help desk close",
            "what are the help desk hours"} <= set(hours)
    assert "what time do you close" in question_phrases(["When are you open?"])
    assert "what does a check up cost" in question_phrases(["How much does a check-up cost?"])


def test_a_question_in_no_known_frame_gives_nothing_and_nothing_repeats():
    assert question_phrases(["Parking?", "", "Tell me about the menu."]) == []
    twice = question_phrases(["Is there parking?", "Is there parking?"])
    assert len(twice) == len(set(twice)) > 0


def test_the_agents_vocabulary_holds_the_rewrites_of_its_questions():
    base = conversation_for(HELP_DESK)
    vocabulary = stt_vocabulary(base.knowledge, base.tools)
    assert "i need to reset my password" in vocabulary
    assert "is there a guest wifi" in vocabulary


def test_a_can_i_request_is_also_asked_with_could():
    assert could_phrases(["Can I speak to a person", "can you transfer me", "can we sit outside",
                          "can i speak to a person", "where are you", "scan it"]) == [
        "could i speak to a person", "could you transfer me", "could we sit outside"]
    base = conversation_for(HELP_DESK)
    vocabulary = stt_vocabulary(base.knowledge, base.tools)
    assert "could i speak to a person" in vocabulary and "can i speak to a person" in vocabulary
