"""The offline brain and the InstantLLM fake, driven turn by turn like the call session does."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from calls.realtime.providers.llm.base import (
    BrainEvent,
    Conversation,
    Done,
    LLMProvider,
    Message,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
)
from calls.realtime.providers.llm.instant import InstantLLM
from calls.realtime.providers.llm.offline import TRANSFER_LINE, OfflineBrain

KNOWLEDGE = [
    ("What are your opening hours?", "We are open Monday to Friday, nine to five."),
    ("Where are you located?", "We are at 12 Main Street, next to the bank."),
    ("How much does a cleaning cost?", "A cleaning costs eighty dollars."),
    ("Do you have parking?", "Yes, there is free parking behind the building."),
]

BOOK_APPOINTMENT = ToolSpec(
    name="book_appointment",
    description="Book an appointment for the caller.",
    parameters={
        "type": "object",
        "properties": {
            "date": {"type": "string", "format": "date", "description": "Date"},
            "time": {"type": "string", "description": "Time"},
            "party_size": {"type": "integer", "description": "Number of people", "minimum": 1},
            "notes": {"type": "string", "description": "Anything else we should know"},
        },
        "required": ["date", "time", "party_size"],
    },
    trigger_phrases=["book an appointment", "make an appointment"],
)

ORDER_STATUS = ToolSpec(
    name="check_order",
    description="Checks the status of an order.",
    parameters={
        "type": "object",
        "properties": {
            "order_number": {"type": "integer", "description": "Order number"},
            "shipping": {"type": "string", "enum": ["standard", "express"],
                         "description": "Shipping speed"},
            "text_updates": {"type": "boolean", "description": "Whether to send text updates"},
        },
        "required": ["shipping", "order_number", "text_updates"],
    },
    trigger_phrases=["where is my order", "order status"],
)


@dataclass
class Turn:
    """What the brain produced for one `respond` round."""

    events: list[BrainEvent]
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    done: Done | None = None


async def run(brain: LLMProvider, conversation: Conversation) -> Turn:
    events = [event async for event in brain.respond(conversation)]
    turn = Turn(events)
    turn.text = "".join(e.text for e in events if isinstance(e, TextDelta))
    turn.tool_calls = [e for e in events if isinstance(e, ToolCall)]
    dones = [e for e in events if isinstance(e, Done)]
    assert len(dones) == 1 and events[-1] is dones[0], "exactly one Done, and it comes last"
    turn.done = dones[0]
    return turn


async def caller_says(brain: LLMProvider, conversation: Conversation, text: str) -> Turn:
    """Append the caller's words, run the brain, record its reply as the session would."""
    conversation.messages.append(Message(role="user", text=text))
    turn = await run(brain, conversation)
    conversation.messages.append(
        Message(role="assistant", text=turn.text, tool_calls=turn.tool_calls)
    )
    return turn


async def tool_returns(
    brain: LLMProvider, conversation: Conversation, content: object, *, is_error: bool = False
) -> Turn:
    call = conversation.messages[-1].tool_calls[0]
    result = ToolResult(call_id=call.id, name=call.name, content=content, is_error=is_error)
    conversation.messages.append(Message(role="tool", tool_results=[result]))
    turn = await run(brain, conversation)
    conversation.messages.append(Message(role="assistant", text=turn.text))
    return turn


# The calls below happen on Wednesday, 2 December 2026, at 9:30 in the morning.
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)


def a_call(*tools: ToolSpec) -> Conversation:
    return Conversation(
        system_prompt="You are the receptionist of Acme Dental.",
        messages=[Message(role="assistant", text="Hello, thanks for calling Acme Dental.")],
        tools=list(tools),
        knowledge=list(KNOWLEDGE),
        now=NOW,
    )


async def a_call_after(tool: ToolSpec, *said: str) -> tuple[OfflineBrain, Conversation]:
    """A brain and a call in which the caller already said `said`, turn by turn."""
    brain, conversation = OfflineBrain(), a_call(tool)
    for words in said:
        await caller_says(brain, conversation, words)
    return brain, conversation


# -- knowledge ---------------------------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("caller", "answer_index"),
    [
        ("what time do you open", 0),
        ("when are you closed on saturday", 0),
        ("where can I find you", 1),
        ("what's your address?", 1),
        ("how much is it for a cleaning", 2),
        ("is there somewhere to park", 3),
    ],
)
async def test_paraphrased_question_gets_the_knowledge_answer(caller, answer_index):
    # given an agent with several knowledge entries
    conversation = a_call(BOOK_APPOINTMENT)

    # when the caller asks in their own words
    turn = await caller_says(OfflineBrain(), conversation, caller)

    # then the matching entry's answer is spoken
    assert turn.text == KNOWLEDGE[answer_index][1]
    assert turn.done.stop_reason == "end_turn" and not turn.done.end_call


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("misheard", "answer_index"),
    [
        ("wear is your office locatid", 1),
        ("how much dose a cleening cost", 2),
        ("what are your opening ours", 0),
    ],
)
async def test_speech_recognition_errors_still_find_the_answer(misheard, answer_index):
    # given an agent with knowledge
    conversation = a_call()

    # when the recogniser garbled some words
    turn = await caller_says(OfflineBrain(), conversation, misheard)

    # then the answer is still found
    assert turn.text == KNOWLEDGE[answer_index][1]


# -- tool flow ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_booking_asks_each_required_argument_then_calls_the_tool():
    # given an agent that can book appointments
    brain = OfflineBrain()
    conversation = a_call(BOOK_APPOINTMENT)

    # when the caller asks to book and answers each question
    asked_date = await caller_says(brain, conversation, "Hi, I'd like to make an appointment")
    asked_time = await caller_says(brain, conversation, "um, next Tuesday please")
    asked_people = await caller_says(brain, conversation, "at 3 pm")
    working = await caller_says(brain, conversation, "three of us")

    # then it asks for date, time and party size in turn (never the optional notes)
    assert asked_date.text.endswith("What date would you like?")
    assert asked_time.text.endswith("What time would you like?")
    assert asked_people.text.endswith("How many people?")
    assert not any(t.tool_calls for t in (asked_date, asked_time, asked_people))
    # and then calls the tool with the answers coerced to their types
    assert working.text == "One moment while I book that."
    assert working.tool_calls == [
        ToolCall(
            id="offline-1",
            name="book_appointment",
            arguments={"date": "2026-12-08", "time": "3 pm", "party_size": 3},
        )
    ]
    assert working.done.stop_reason == "tool_use"


@pytest.mark.asyncio
async def test_slot_answer_of_the_wrong_type_is_asked_again():
    # given a booking waiting for the party size
    brain, conversation = await a_call_after(
        BOOK_APPOINTMENT, "I want to book an appointment", "Friday", "noon"
    )

    # when the caller answers with no number, then with one
    retry = await caller_says(brain, conversation, "a few")
    working = await caller_says(brain, conversation, "twelve")

    # then the question is repeated with a hint, and the number is taken next
    assert retry.text == "Sorry, I need a number. How many people?"
    assert working.tool_calls[0].arguments["party_size"] == 12


@pytest.mark.asyncio
@pytest.mark.parametrize(("said", "party"), [
    ("me and my wife", 2), ("myself and my husband", 2), ("two adults and two kids", 4),
    ("me and three friends", 4), ("my wife, me and two kids", 4), ("five and a baby", 6),
    ("half a dozen", 6), ("four and a high chair", 4), ("just me", 1)])
async def test_a_party_said_as_who_comes_is_counted(said, party):
    brain, conversation = await a_call_after(
        BOOK_APPOINTMENT, "I want to book an appointment", "Friday", "noon")
    working = await caller_says(brain, conversation, said)
    assert working.tool_calls[0].arguments["party_size"] == party


@pytest.mark.asyncio
async def test_enum_and_boolean_arguments_are_picked_from_speech():
    # given a tool with an enum, an integer and a boolean argument
    brain = OfflineBrain()
    conversation = a_call(ORDER_STATUS)

    # when the caller names the enum value up front, then answers the rest
    asked_number = await caller_says(brain, conversation, "what's my order status, I paid express")
    asked_updates = await caller_says(brain, conversation, "it's four two seven")
    working = await caller_says(brain, conversation, "yeah sure")

    # then the enum is not asked for, and every value has its schema type
    assert asked_number.text.endswith("What is your order number?")
    assert asked_updates.text.endswith("Would you like to send text updates?")
    assert working.text == "One moment while I check that."
    assert working.tool_calls[0].arguments == {
        "shipping": "express", "order_number": 427, "text_updates": True,
    }


@pytest.mark.asyncio
async def test_misheard_enum_value_is_matched_fuzzily():
    # given an order check waiting for the shipping speed
    brain = OfflineBrain()
    conversation = a_call(ORDER_STATUS)
    asked = await caller_says(brain, conversation, "order status please")

    # when the recogniser mangles the option
    next_question = await caller_says(brain, conversation, "the standerd one")

    # then the enum question listed the options, and the closest one was taken
    assert asked.text.endswith("Which shipping speed would you like: standard or express?")
    assert next_question.text == "Got it. What is your order number?"


@pytest.mark.asyncio
async def test_second_tool_call_gets_the_next_id():
    # given a call where one booking was already made and its result spoken
    brain, conversation = await a_call_after(
        BOOK_APPOINTMENT, "book an appointment", "Monday", "9 am", "two"
    )
    await tool_returns(brain, conversation, {"message": "Booked."})

    # when the caller books again
    for said in ("I'd like to book an appointment too", "Tuesday", "10 am"):
        await caller_says(brain, conversation, said)
    working = await caller_says(brain, conversation, "one")

    # then the new call has a new deterministic id
    assert working.tool_calls[0].id == "offline-2"
    assert working.tool_calls[0].arguments == {
        "date": "2026-12-08", "time": "10 am", "party_size": 1}


@pytest.mark.asyncio
async def test_question_mid_booking_is_answered_and_the_slot_asked_again():
    # given a booking waiting for the date
    brain, conversation = await a_call_after(BOOK_APPOINTMENT, "I need to book an appointment")

    # when the caller asks something else instead
    turn = await caller_says(brain, conversation, "what are your opening hours?")

    # then it answers and asks for the date again, without taking the question as the date
    assert turn.text == f"{KNOWLEDGE[0][1]} What date would you like?"
    assert not turn.tool_calls


@pytest.mark.asyncio
@pytest.mark.parametrize("words", ["never mind", "Never mind, cancel that.", "Oh, forget it.",
                                   "No, no, stop."])
async def test_caller_can_cancel_a_booking_in_progress(words):
    # given a booking waiting for the time
    brain, conversation = await a_call_after(BOOK_APPOINTMENT, "book an appointment", "Thursday")

    # when the caller changes their mind, then asks a question
    cancelled = await caller_says(brain, conversation, words)
    answer = await caller_says(brain, conversation, "do you have parking")

    # then the flow is dropped and the next utterance is a normal question
    assert cancelled.text.startswith("Okay, I've cancelled that.")
    assert answer.text == KNOWLEDGE[3][1]


@pytest.mark.asyncio
async def test_flow_is_rebuilt_from_messages_even_when_the_question_was_cut_short():
    # given a conversation where the caller barged in: the stored agent turn is truncated
    conversation = a_call(BOOK_APPOINTMENT)
    conversation.messages += [
        Message(role="user", text="I'd like to book an appointment"),
        Message(role="assistant", text="Sure, I can"),
        Message(role="user", text="Saturday"),
    ]

    # when a fresh brain instance answers
    turn = await run(OfflineBrain(), conversation)

    # then it still knows the date was given and asks for the time
    assert turn.text == "Got it. What time would you like?"


@pytest.mark.asyncio
async def test_a_recorded_tool_call_closes_the_flow_whoever_made_it():
    # given a booking flow that a tool call recorded in the messages already settled
    conversation = a_call(BOOK_APPOINTMENT)
    conversation.messages += [
        Message(role="user", text="book an appointment"),
        Message(role="assistant", text="Booking.", tool_calls=[
            ToolCall(id="llm-1", name="book_appointment", arguments={}),
        ]),
        Message(role="user", text="where are you located"),
    ]

    # when the brain answers the next turn
    turn = await run(OfflineBrain(), conversation)

    # then it is a plain answer, not a question about the booking's date
    assert turn.text == KNOWLEDGE[1][1]


@pytest.mark.asyncio
async def test_one_instance_serves_interleaved_calls():
    # given one brain and two calls at different points
    brain = OfflineBrain()
    booking, question = a_call(BOOK_APPOINTMENT), a_call(BOOK_APPOINTMENT)

    # when their turns interleave
    await caller_says(brain, booking, "book an appointment")
    answer = await caller_says(brain, question, "where are you located")
    asked_time = await caller_says(brain, booking, "tomorrow")

    # then neither call sees the other's state
    assert answer.text == KNOWLEDGE[1][1]
    assert asked_time.text == "Got it. What time would you like?"


# -- tool results ------------------------------------------------------------------------------


async def a_booking_waiting_for_its_result() -> tuple[OfflineBrain, Conversation]:
    brain, conversation = await a_call_after(
        BOOK_APPOINTMENT, "book an appointment", "Monday", "9 am", "2"
    )
    assert conversation.messages[-1].tool_calls, "the booking was called"
    return brain, conversation


@pytest.mark.asyncio
async def test_tool_result_message_is_spoken():
    # given a booking call in flight
    brain, conversation = await a_booking_waiting_for_its_result()

    # when the tool returns a message
    turn = await tool_returns(
        brain, conversation, {"message": "You're booked for Monday at 9 am", "id": 7}
    )

    # then the message is said, followed by an offer of more help
    assert turn.text == (
        "You're booked for Monday at 9 am. Is there anything else I can help you with?"
    )
    assert turn.done.stop_reason == "end_turn"


@pytest.mark.asyncio
async def test_tool_result_without_message_is_summarised():
    # given a booking call in flight
    brain, conversation = await a_booking_waiting_for_its_result()

    # when the tool returns plain fields
    turn = await tool_returns(brain, conversation, {"confirmation_code": "AB12", "paid": False})

    # then the fields are read out briefly
    assert turn.text.startswith("Done. Confirmation code: AB12; paid: no.")


@pytest.mark.asyncio
async def test_tool_error_says_it_failed_and_offers_other_help():
    # given a booking call in flight
    brain, conversation = await a_booking_waiting_for_its_result()

    # when the tool fails with a technical error
    turn = await tool_returns(brain, conversation, "KeyError: 'slot'", is_error=True)

    # then the caller hears it could not be done, not the technical detail
    assert "couldn't complete that" in turn.text
    assert "KeyError" not in turn.text
    assert turn.text.endswith("Is there anything else I can help you with?")


@pytest.mark.asyncio
async def test_no_after_anything_else_ends_the_call():
    # given a tool result followed by "anything else?"
    brain, conversation = await a_booking_waiting_for_its_result()
    await tool_returns(brain, conversation, {"message": "Booked."})

    # when the caller says no
    turn = await caller_says(brain, conversation, "no thanks")

    # then the brain says goodbye and asks to hang up
    assert turn.done.end_call
    assert "Goodbye" in turn.text


# -- goodbye, human, misunderstanding ----------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("caller", ["goodbye", "ok bye", "thank you, that's it", "that's all"])
async def test_goodbye_ends_the_call(caller):
    # given a call in progress
    conversation = a_call(BOOK_APPOINTMENT)

    # when the caller says goodbye
    turn = await caller_says(OfflineBrain(), conversation, caller)

    # then a polite goodbye is spoken and the call is to end
    assert turn.text == "Thank you for calling. Goodbye!"
    assert turn.done.end_call and turn.done.transfer_to is None


@pytest.mark.asyncio
async def test_a_question_ending_in_bye_is_answered_not_hung_up_on():
    # given a call in progress
    conversation = a_call(BOOK_APPOINTMENT)

    # when the recogniser hears "nearby" as "near bye" in a question
    turn = await caller_says(OfflineBrain(), conversation, "is there parking near bye")

    # then the question is answered and the call goes on
    assert turn.text == KNOWLEDGE[3][1]
    assert not turn.done.end_call


@pytest.mark.asyncio
@pytest.mark.parametrize("caller", [
    "can I book an appointment for Tuesday, that's it",  # a request, then a closing
    "I need to book a cleaning, that's all",
])
async def test_a_request_that_ends_in_a_closing_is_served_not_hung_up_on(caller):
    # given a call in progress
    conversation = a_call(BOOK_APPOINTMENT)

    # when the caller asks for something and closes in the same breath
    turn = await caller_says(OfflineBrain(), conversation, caller)

    # then the request is taken up and the call goes on
    assert not turn.done.end_call
    assert turn.tool_calls or "?" in turn.text


@pytest.mark.asyncio
@pytest.mark.parametrize("caller", ["could you hang up", "please hang up now",
                                    "alright I'll hang up now"])
async def test_asking_to_be_hung_up_on_ends_the_call(caller):
    # given a call in progress
    conversation = a_call(BOOK_APPOINTMENT)

    # when the caller asks the agent to hang up
    turn = await caller_says(OfflineBrain(), conversation, caller)

    # then it does
    assert turn.done.end_call


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "caller",
    ["can I speak to a real person", "human", "operator please", "agent please",
     "I want a representive"],
)
async def test_asking_for_a_human_requests_a_transfer(caller):
    # given a call in progress
    conversation = a_call(BOOK_APPOINTMENT)

    # when the caller asks for a person
    turn = await caller_says(OfflineBrain(), conversation, caller)

    # then the brain announces and requests a transfer
    assert turn.text == TRANSFER_LINE
    assert turn.done.transfer_to == "human" and not turn.done.end_call


TRANSFER_CALL = ToolSpec(
    name="transfer_call", description="Transfer the caller to a person.",
    parameters={"type": "object", "properties": {"destination": {"type": "string"},
                                                  "summary": {"type": "string"}}},
    trigger_phrases=["speak to a human"])


@pytest.mark.asyncio
async def test_with_a_transfer_tool_the_brain_calls_it_with_a_summary_then_asks_to_hold():
    # given an agent with the transfer tool, and a caller who said why they call
    brain, conversation = OfflineBrain(), a_call(BOOK_APPOINTMENT, TRANSFER_CALL)
    await caller_says(brain, conversation, "I have a question about my invoice")
    # when they ask for a person
    turn = await caller_says(brain, conversation, "can I speak to a real person")
    # then the tool is called, the person briefed with the caller's own words
    assert turn.text == TRANSFER_LINE and turn.done.transfer_to is None
    [call] = turn.tool_calls
    assert call.name == "transfer_call"
    assert "I have a question about my invoice" in call.arguments["summary"]
    # and once Twilio is putting them through, the caller is asked to hold
    held = await tool_returns(brain, conversation, {"transferred": True, "mode": "warm"})
    assert held.text == "Please hold while I put you through."
    # a refused transfer is said so, and the call goes on
    turn = await caller_says(brain, conversation, "operator please")
    failed = await tool_returns(brain, conversation, "Twilio refused", is_error=True)
    assert failed.text.startswith("I'm sorry") and not failed.done.end_call


@pytest.mark.asyncio
async def test_two_misunderstandings_offer_a_human_and_yes_transfers():
    # given a call in progress
    brain = OfflineBrain()
    conversation = a_call(BOOK_APPOINTMENT)

    # when the caller says two things the brain cannot place, then accepts the offer
    first = await caller_says(brain, conversation, "the flux capacitor needs polarising")
    second = await caller_says(brain, conversation, "my llama ate the invoice")
    accepted = await caller_says(brain, conversation, "yes please")

    # then the first miss lists what it can do, the second offers a human, yes transfers
    assert first.text.startswith("Sorry, I didn't understand that.")
    assert "what are your opening hours" in first.text
    assert "book an appointment for you" in first.text
    assert "transfer you to a member of our team?" in second.text
    assert first.done.transfer_to is None and second.done.transfer_to is None
    assert accepted.done.transfer_to == "human"


@pytest.mark.asyncio
async def test_an_understood_turn_resets_the_misunderstanding_count():
    # given one misunderstanding followed by an answered question
    brain = OfflineBrain()
    conversation = a_call()
    await caller_says(brain, conversation, "the flux capacitor is broken")
    await caller_says(brain, conversation, "where are you located")

    # when the caller is misunderstood again
    turn = await caller_says(brain, conversation, "my llama ate the invoice")

    # then it is a first miss again, not an offer of a human
    assert turn.text.startswith("Sorry, I didn't understand that.")
    assert "transfer" not in turn.text


@pytest.mark.asyncio
@pytest.mark.parametrize("silence", ["", "   ", "\n"])
async def test_empty_utterance_gets_a_short_reprompt(silence):
    # given a call in progress
    conversation = a_call()

    # when the transcript is empty
    turn = await caller_says(OfflineBrain(), conversation, silence)

    # then the caller is asked to repeat
    assert turn.text == "Sorry, I didn't catch that."


@pytest.mark.asyncio
async def test_empty_utterance_mid_booking_repeats_the_question():
    # given a booking waiting for the date
    brain, conversation = await a_call_after(BOOK_APPOINTMENT, "book an appointment")

    # when the transcript is empty, then the date comes
    reprompt = await caller_says(brain, conversation, " ")
    asked_time = await caller_says(brain, conversation, "June 3rd")

    # then the question is asked again and the flow goes on where it was
    assert reprompt.text == "Sorry, I didn't catch that. What date would you like?"
    assert asked_time.text == "Got it. What time would you like?"


# -- DTMF --------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_dtmf_digits_answer_a_numeric_slot():
    # given an order check waiting for the order number
    brain, conversation = await a_call_after(ORDER_STATUS, "order status", "express")

    # when the caller keys the number, then presses 2 for "no"
    asked = await caller_says(brain, conversation, "[DTMF 4215#]")
    working = await caller_says(brain, conversation, "[DTMF 2]")

    # then the digits became the integer, and 2 meant no
    assert asked.text.endswith("Would you like to send text updates?")
    assert working.tool_calls[0].arguments == {
        "shipping": "express", "order_number": 4215, "text_updates": False,
    }


@pytest.mark.asyncio
async def test_dtmf_zero_outside_a_question_transfers():
    # given a call in progress with nothing being asked
    conversation = a_call(BOOK_APPOINTMENT)

    # when the caller presses 0
    turn = await caller_says(OfflineBrain(), conversation, "[DTMF 0]")

    # then the brain requests a transfer
    assert turn.done.transfer_to == "human"


@pytest.mark.asyncio
async def test_dtmf_star_repeats_what_was_said():
    # given the agent just asked a question
    brain = OfflineBrain()
    conversation = a_call(BOOK_APPOINTMENT)
    asked = await caller_says(brain, conversation, "book an appointment")

    # when the caller presses *
    turn = await caller_says(brain, conversation, "[DTMF *]")

    # then the last thing said is said again
    assert turn.text == asked.text


# -- streaming ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_reply_streams_in_several_chunks_with_zero_usage():
    # given a question with a multi-word answer
    conversation = a_call()
    conversation.messages.append(Message(role="user", text="where are you located"))

    # when the brain answers
    turn = await run(OfflineBrain(), conversation)

    # then the text arrives in word chunks that add up to the answer, and no tokens are counted
    chunks = [e.text for e in turn.events if isinstance(e, TextDelta)]
    assert len(chunks) == len(KNOWLEDGE[1][1].split())
    assert "".join(chunks) == KNOWLEDGE[1][1]
    assert (turn.done.usage.input_tokens, turn.done.usage.output_tokens) == (0, 0)


@pytest.mark.asyncio
async def test_nothing_to_answer_after_the_greeting():
    # given only the greeting so far
    conversation = a_call()

    # when the brain is asked
    turn = await run(OfflineBrain(), conversation)

    # then it says nothing
    assert turn.events == [Done()]


# -- InstantLLM --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_instant_llm_waits_first_token_ms_then_streams_words():
    # given a fake with 50 ms to first token
    brain = InstantLLM("Thanks for calling us.", first_token_ms=50)
    conversation = a_call()
    conversation.messages.append(Message(role="user", text="hello"))

    # when it responds
    started = time.perf_counter()
    first_event_at = None
    events = []
    async for event in brain.respond(conversation):
        first_event_at = first_event_at or time.perf_counter()
        events.append(event)

    # then the first word came after the delay, and the words stream one by one
    assert first_event_at - started >= 0.045
    assert [e.text for e in events[:-1]] == ["Thanks ", "for ", "calling ", "us."]
    assert events[-1].usage.latency_ms >= 45


@pytest.mark.asyncio
async def test_instant_llm_spaces_chunks_by_the_configured_delay():
    # given a fake with a 20 ms gap between words
    brain = InstantLLM("one two three", chunk_delay_ms=20)
    conversation = a_call()
    conversation.messages.append(Message(role="user", text="hi"))

    # when it responds
    started = time.perf_counter()
    turn = await run(brain, conversation)

    # then two gaps were waited
    assert time.perf_counter() - started >= 0.038
    assert turn.text == "one two three"


@pytest.mark.asyncio
async def test_instant_llm_runs_scripted_tool_calls_then_speaks_after_results():
    # given a fake scripted with a tool call and a reply built from the conversation
    def reply(conversation: Conversation) -> str:
        return f"Result was {conversation.messages[-1].tool_results[0].content}."

    brain = InstantLLM(reply, tool_calls=[ToolCall(id="", name="lookup", arguments={"q": 1})])
    conversation = a_call()

    # when the caller speaks, and then the tool result comes back
    first = await caller_says(brain, conversation, "anything")
    second = await tool_returns(brain, conversation, "42")

    # then the first round only calls the tool, the second speaks
    assert first.tool_calls == [ToolCall(id="instant-1-1", name="lookup", arguments={"q": 1})]
    assert first.done.stop_reason == "tool_use" and first.text == ""
    assert second.text == "Result was 42."
    assert second.done.stop_reason == "end_turn"
    assert brain.rounds == 2



@pytest.mark.parametrize("said", ["please forget me", "delete my data", "don't remember me",
                                  "can you erase my information"])
@pytest.mark.asyncio
async def test_a_caller_asking_to_be_forgotten_gets_the_forget_caller_action(said):
    from calls.realtime.call_control import FORGET_CALLER, FORGOTTEN

    brain, conversation = OfflineBrain(), a_call(BOOK_APPOINTMENT)
    asked = await caller_says(brain, conversation, said)
    assert [call.name for call in asked.tool_calls] == [FORGET_CALLER]
    # and once the session has done it, the brain says so
    said_after = await tool_returns(brain, conversation, {"message": FORGOTTEN})
    assert said_after.text.startswith(FORGOTTEN)


@pytest.mark.asyncio
async def test_forget_it_still_cancels_and_does_not_forget_the_caller():
    brain, conversation = OfflineBrain(), a_call(BOOK_APPOINTMENT)
    assert (await caller_says(brain, conversation, "forget it")).tool_calls == []


# -- knowledge documents ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_a_document_passage_answers_what_no_knowledge_entry_covers():
    brain, conversation = OfflineBrain(), a_call()
    conversation.messages.append(Message(
        role="user", text="Do you take Cigna insurance?",
        passages=["[Handbook — Insurance] We accept Delta Dental, Cigna and Aetna plans. Bring "
                  "your card to the first visit. Claims are filed for you. "
                  + "More detail. " * 20]))
    turn = await run(brain, conversation)
    # the passage's first whole sentences, as many as are comfortable to hear, without where
    # the passage came from
    assert turn.text.startswith("We accept Delta Dental, Cigna and Aetna plans. Bring your card "
                                "to the first visit. Claims are filed for you. More detail.")
    assert len(turn.text) <= 280 and turn.text.endswith("More detail.")


@pytest.mark.asyncio
async def test_a_knowledge_entry_that_covers_the_question_still_wins_over_a_passage():
    brain, conversation = OfflineBrain(), a_call()
    conversation.messages.append(Message(
        role="user", text="What are your opening hours?",
        passages=["[Handbook — Holidays] Opening hours change on public holidays."]))
    turn = await run(brain, conversation)
    assert turn.text == "We are open Monday to Friday, nine to five."


# -- understanding: intents, dates checked against the hours, read-back, honest answers ----------

CLINIC_BOOKING = ToolSpec(
    name="book_appointment", description="Book an appointment at the clinic.",
    parameters={"type": "object", "properties": {"when": {
        "type": "string", "format": "date-time",
        "description": "the day and time you would like to come in"}}, "required": ["when"]},
    trigger_phrases=["book an appointment"], confirm=True)
TICKETS = ToolSpec(
    name="create_ticket", description="Open a support ticket for a problem.",
    parameters={"type": "object", "properties": {
        "summary": {"type": "string", "description": "a short description of the problem"},
        "urgency": {"type": "string", "enum": ["low", "normal", "urgent"],
                    "description": "How urgent is it?"}}, "required": ["summary", "urgency"]},
    confirm=True)


def a_clinic_call(*tools: ToolSpec) -> Conversation:
    conversation = a_call(*tools)
    conversation.business_hours = "Mon-Fri 09:00-17:00; Sat 09:00-13:00"
    conversation.timezone = "America/New_York"
    return conversation


async def clinic_turns(*said: str, tools=(CLINIC_BOOKING,)) -> list[Turn]:
    brain, conversation = OfflineBrain(), a_clinic_call(*tools)
    return [await caller_says(brain, conversation, words) for words in said]


@pytest.mark.asyncio
async def test_a_symptom_is_offered_a_visit_and_yes_starts_the_booking():
    offer, yes = await clinic_turns("My tooth hurts", "yes please")
    assert offer.text.startswith("I'm sorry to hear that.") and "Would you like that?" in offer.text
    assert not offer.tool_calls
    assert yes.text.endswith("What is the day and time you would like to come in?")


@pytest.mark.asyncio
async def test_a_time_that_is_not_one_or_not_open_is_asked_again():
    _, banana, sunday, day, time_, confirm, yes = await clinic_turns(
        "I'd like to book an appointment", "banana", "Sunday at ten", "Tuesday", "at ten",
        "yes", "yes")
    assert banana.text.startswith("Sorry, I didn't catch a day or time.")
    assert "closed on Sundays" in sunday.text
    assert day.text == "What time on Tuesday, December 8?"
    assert time_.text == ("Just to confirm, I'll book an appointment for Tuesday, December 8 at "
                          "10 AM. Shall I go ahead?")
    assert not time_.tool_calls  # nothing runs before the caller says yes
    assert confirm.tool_calls[0].arguments == {"when": "2026-12-08T10:00:00-05:00"}
    assert yes.text  # the call goes on


@pytest.mark.asyncio
async def test_a_change_at_the_read_back_is_taken_and_read_back_again():
    asked, changed, done = await clinic_turns(
        "Can I book an appointment for tomorrow at 10 am?", "No, make it Friday at two", "Yes")
    assert "Thursday, December 3 at 10 AM" in asked.text
    assert "Friday, December 4 at 2 PM" in changed.text and not changed.tool_calls
    assert done.tool_calls[0].arguments == {"when": "2026-12-04T14:00:00-05:00"}


@pytest.mark.asyncio
async def test_a_read_back_answered_without_yes_or_no():
    _, perfect = await clinic_turns("Can I book an appointment for tomorrow at 10 am?",
                                    "Perfect, thanks")
    assert perfect.tool_calls[0].arguments == {"when": "2026-12-03T10:00:00-05:00"}
    # "right" is a yes word, but not in "that isn't right": nothing is booked
    _, wrong = await clinic_turns("Can I book an appointment for tomorrow at 10 am?",
                                  "That isn't right")
    assert not wrong.tool_calls and wrong.text.startswith("Okay, let's fix that.")


@pytest.mark.asyncio
async def test_a_misheard_request_that_names_a_day_is_taken_as_a_booking():
    # "Can I come in on Monday at ten?" as the recogniser heard it: no trigger, no entry
    [misheard] = await clinic_turns("can i common on monday at ten")
    assert misheard.text == ("Just to confirm, I'll book an appointment for Monday, December 7 at "
                             "10 AM. Shall I go ahead?") and not misheard.tool_calls
    [closed] = await clinic_turns("can i common on sunday at ten")
    assert "closed on Sundays" in closed.text  # checked against the hours as any booking
    # without a booking tool a day is nothing to act on, and words with no day stay unplaced
    [no_tool] = await clinic_turns("can i common on monday at ten", tools=())
    [no_day] = await clinic_turns("you tell contact hundred")
    assert no_tool.text.startswith("Sorry, I don't have an answer to that.")
    assert no_day.text.startswith("Sorry, I didn't understand that.")


@pytest.mark.asyncio
async def test_a_new_day_at_the_read_back_keeps_that_day_and_asks_its_time():
    asked, day, time_, done = await clinic_turns(
        "Can I book an appointment for tomorrow at 10 am?", "No, make it Friday", "At two",
        "Yes")
    assert "Thursday, December 3 at 10 AM" in asked.text
    # the day is taken, not forgotten with the rest ("What is the day and time...")
    assert day.text == "Okay. What time on Friday, December 4?" and not day.tool_calls
    assert "Friday, December 4 at 2 PM" in time_.text and not time_.tool_calls
    assert done.tool_calls[0].arguments == {"when": "2026-12-04T14:00:00-05:00"}


@pytest.mark.asyncio
async def test_cancelling_without_a_tool_for_it_is_said_honestly_and_a_person_offered():
    honest, agreed = await clinic_turns("I need to cancel my appointment", "I don't mind")
    assert honest.text.startswith("I'm not able to cancel bookings myself")
    assert not honest.tool_calls
    assert agreed.done.transfer_to == "human"


@pytest.mark.asyncio
@pytest.mark.parametrize("words", ["I need to cancel my appointment",
                                   "Can I move my appointment to Friday?"])
async def test_a_returning_caller_who_wants_a_booking_changed_is_not_told_about_the_last_call(
        words):
    # given a caller the agent remembers, with a booking from their last call
    brain, conversation = OfflineBrain(), a_clinic_call(CLINIC_BOOKING)
    conversation.memory = {"last_book_appointment": "when 2026-12-07T10:00:00-05:00",
                           "last_call": "The caller booked an appointment."}
    # when they ask for it to change, then what it is
    change = await caller_says(brain, conversation, words)
    recall = await caller_says(OfflineBrain(), conversation, "When is my appointment?")
    # then the change is dealt with (no tool for it here: said honestly, a person offered),
    # and the question is still answered from memory
    assert "last call" not in change.text
    assert change.text.startswith("I'm not able to")
    assert recall.text.startswith("From your last call: book appointment, when Monday, December 7")


@pytest.mark.asyncio
async def test_a_question_without_an_answer_is_never_given_a_random_entry():
    [turn] = await clinic_turns("Do you do teeth whitening?")
    assert turn.text.startswith("Sorry, I don't have an answer to that.")


@pytest.mark.asyncio
async def test_a_complaint_goes_to_a_person():
    offer, agreed = await clinic_turns("The receptionist was rude to me", "yes")
    assert offer.text.startswith("I'm sorry to hear that.")
    assert agreed.done.transfer_to == "human"


@pytest.mark.asyncio
async def test_a_fault_opens_a_ticket_in_the_callers_words():
    asked, confirm, done = await clinic_turns("My laptop won't turn on", "it's not urgent, low",
                                              "yes", tools=(TICKETS,))
    assert asked.text.endswith("How urgent is it: low, normal, or urgent?")
    assert 'summary "My laptop won\'t turn on"' in confirm.text
    assert done.tool_calls[0].arguments == {"summary": "My laptop won't turn on",
                                            "urgency": "low"}


# -- what the next turn is expected to be (the offline recogniser leans toward it) ------------


@pytest.mark.asyncio
async def test_each_question_hands_the_recogniser_the_answers_it_expects():
    from calls.realtime.providers.llm.offline.answers import YES_NO_PHRASES

    brain, conversation = OfflineBrain(), a_call(ORDER_STATUS)

    # a choice: its options; a number with no foreseeable words: nothing; a yes-or-no: yes/no
    asked_shipping = await caller_says(brain, conversation, "order status please")
    asked_number = await caller_says(brain, conversation, "express")
    asked_updates = await caller_says(brain, conversation, "four two seven")
    working = await caller_says(brain, conversation, "yes")
    assert asked_shipping.done.expects == ("standard", "express")
    assert asked_number.done.expects == ()
    assert asked_updates.done.expects == YES_NO_PHRASES
    assert working.done.expects == ()  # a tool call: nothing asked


@pytest.mark.asyncio
async def test_a_read_back_expects_a_yes_a_no_or_a_correction_and_an_answer_expects_nothing():
    from calls.realtime.providers.llm.offline.answers import YES_NO_PHRASES

    confirmed_tool = ToolSpec(
        name="book_visit", description="Book a visit.",
        parameters={"type": "object", "required": ["when"], "properties": {
            "when": {"type": "string", "format": "date-time", "description": "When"}}},
        trigger_phrases=["book a visit"], confirm=True)
    brain, conversation = OfflineBrain(), a_call(confirmed_tool)

    asked_when = await caller_says(brain, conversation, "I'd like to book a visit")
    read_back = await caller_says(brain, conversation, "Thursday at two")
    assert "tuesday at ten" in asked_when.done.expects  # days and times
    assert read_back.text.endswith("?") and read_back.done.expects[:len(YES_NO_PHRASES)] \
        == YES_NO_PHRASES and "friday at two" not in YES_NO_PHRASES
    assert "on friday" in read_back.done.expects  # "no, make it Friday"

    answered = await caller_says(OfflineBrain(), a_call(), "what time do you open")
    assert answered.done.expects == ()


# -- what the recogniser leaves of a sentence --------------------------------------------------


def test_a_question_matched_only_on_its_verb_is_not_answered():
    from agents.demo_agents import HELP_DESK
    from learning.quality.text import first_reply

    printer_answer = HELP_DESK.knowledge[4]["answer"]
    # given the help desk, which knows "How do I add a printer?"
    # when misheard nonsense shares only the question's verb, then no entry is read out
    # (an honest "no answer", which counts as a miss), while the question itself still is
    assert first_reply(HELP_DESK, "when are need to add").text != printer_answer
    assert first_reply(HELP_DESK, "when are need to add").intent == "question"
    assert first_reply(HELP_DESK, "how do i add a printer").text == printer_answer


@pytest.mark.parametrize(("agent", "heard", "intent"), [
    ("dental", "my tooth really her", "problem"),  # "my tooth really hurts"
    ("helpdesk", "the printer on my floor even working", "problem"),  # "isn't working"
    ("dental", "my teeth need a cleaning", "book"),
    ("dental", "my tooth whitening appointment is on monday", "book"),
])
def test_a_report_whose_last_word_was_misheard_is_still_a_problem(agent, heard, intent):
    assert demo_reply(agent, heard).intent == intent


def demo_reply(agent_key: str, said: str):
    """The reply of the demo agent `agent_key` to `said` as the first words of a call."""
    from agents.demo_agents import DEMO_AGENTS
    from learning.quality.text import first_reply

    return first_reply(next(demo for demo in DEMO_AGENTS if demo.key == agent_key), said)


# Phrasings of a second held-out round (learning/quality/sets/heldout, 2026-12-08) that the
# brain did not place: each stands for a generic reading, not for its own words.
@pytest.mark.parametrize(("agent_key", "said", "intent"), [
    ("dental", "I won't be able to come in tomorrow, please cancel", "cancel"),
    ("dental", "there's a lump on my gum", "problem"),
    ("dental", "alright that's everything, thanks so much", "goodbye"),
    ("restaurant", "is there a person I can talk to", "human"),
    ("restaurant", "can we make our booking for eight instead of seven", "reschedule"),
    ("helpdesk", "my second monitor isn't showing anything", "problem"),
    ("helpdesk", "I spilled coffee on my keyboard", "problem"),
    ("helpdesk", "I want to log a fault with the projector in room four", "problem"),
    ("helpdesk", "please cancel the ticket I opened this morning", "cancel"),
    ("helpdesk", "can we move the laptop handover to friday", "reschedule"),
    ("helpdesk", "my email isn't syncing on my phone", "problem"),  # was the set-up answer
    ("restaurant", "we are not coming tonight", "cancel"),  # was a booking for tonight
    ("restaurant", "we won't be coming on friday after all", "cancel"),
    ("helpdesk", "my account got locked", "problem"),
    ("helpdesk", "I think I clicked on a dodgy link", "problem"),
    ("helpdesk", "I need access to the finance shared drive", "problem"),
    ("helpdesk", "can someone come and look at my computer", "problem"),  # "no answer"
    ("dental", "can you look at my booking", "book"),  # not a symptom
    ("restaurant", "I'd like to leave a message for the manager", "human"),
    ("restaurant", "do you have any tables free on friday", "book"),
    # a question about nothing but a moment asks for it; one about something else does not
    ("dental", "is saturday morning ok", "book"),
    ("restaurant", "is saturday at seven possible", "book"),  # "seven" was read as "serve"
    ("restaurant", "do you serve brunch on sunday", "question"),
])
def test_requests_said_another_way_are_placed(agent_key, said, intent):
    assert demo_reply(agent_key, said).intent == intent


@pytest.mark.parametrize(("agent_key", "said", "answer_holds"), [
    ("dental", "can I use my insurance there", "insurance"),  # "use" and "take": generic verbs
    ("dental", "what would a cleaning set me back", "90 dollars"),
    ("dental", "I just moved here, are you accepting new people", "new patients"),
    ("restaurant", "what part of town are you in", "Harbour Road"),
    ("restaurant", "my son is allergic to nuts, can you handle that", "allergy"),
    # "restaurant" is in two of its questions: it names the business, not a topic
    ("restaurant", "is the restaurant wheelchair accessible", "don't have an answer"),
    ("restaurant", "where is the restaurant", "Harbour Road"),
    # "menu" alone is no topic either (it was the kids' menu), and naming a day in a question
    # does not make it a booking
    ("restaurant", "what's on the menu today", "don't have an answer"),
])
def test_questions_said_another_way_find_their_answer(agent_key, said, answer_holds):
    assert answer_holds in demo_reply(agent_key, said).text


def test_how_much_notice_is_not_a_price():
    from agents.demo_agents import DENTAL
    from learning.quality.text import first_reply

    assert "dollars" not in first_reply(DENTAL, "how much notice do I need to give to cancel").text


async def restaurant_turns(*said: str) -> list[Turn]:
    from agents.demo_agents import RESTAURANT
    from learning.quality.text import conversation_for

    brain, conversation = OfflineBrain(), conversation_for(RESTAURANT)
    return [await caller_says(brain, conversation, words) for words in said]


@pytest.mark.asyncio
async def test_a_name_given_with_the_request_is_not_asked_for_again():
    [read_back] = await restaurant_turns(
        "I'd like to book a table for two on Friday at 7 under the name Smith")
    assert read_back.text.startswith("Just to confirm") and "name Smith" in read_back.text


@pytest.mark.asyncio
async def test_a_name_is_a_name_not_a_count_or_a_time():
    *_, count, name, named = await restaurant_turns(
        "can I get a table", "saturday at 8pm", "four of us", "four of us", "it's for Maria")
    assert count.text == "Got it. What is your name for the booking?"
    # "four of us" again is no name (it used to be read back as "name four of us")
    assert name.text.startswith("Sorry, I didn't catch the name.")
    assert "party size 4, and name Maria" in named.text
    *_, time_ = await restaurant_turns("can I get a table", "saturday at 8pm", "four", "8 pm")
    assert time_.text.startswith("Sorry, I didn't catch the name.")


@pytest.mark.asyncio
async def test_a_time_is_not_a_party_size_and_a_question_mid_booking_is_answered():
    *_, time_, question, unknown = await restaurant_turns(
        "can I get a table", "saturday at 8pm", "8 pm is fine",
        "hmm actually what time do you close on saturday", "do you have a dress code")
    assert time_.text == "Sorry, I need a number. How many guests?"  # was a party of eight
    assert question.text.startswith("We serve lunch from noon") and question.text.endswith(
        "How many guests?")
    assert unknown.text == "Sorry, I don't have an answer to that. How many guests?"


@pytest.mark.parametrize(("said", "urgency"), [
    ("medium I guess", "normal"), ("asap please", "urgent"), ("no rush", "low"),
    ("not urgent, low is fine", "low"), ("the middle one", "normal"), ("high", "urgent")])
def test_a_level_said_in_other_words_is_picked(said, urgency):
    from calls.realtime.providers.llm.offline.slots import coerce

    assert coerce({"type": "string", "enum": ["low", "normal", "urgent"]}, said, None) == urgency


@pytest.mark.asyncio
async def test_an_option_ruled_out_narrows_the_question():
    from agents.demo_agents import HELP_DESK
    from learning.quality.text import conversation_for

    brain, conversation = OfflineBrain(), conversation_for(HELP_DESK)
    await caller_says(brain, conversation, "outlook keeps crashing")
    narrowed = await caller_says(brain, conversation, "not urgent")
    read_back = await caller_says(brain, conversation, "low")
    assert narrowed.text == "Okay. Which one then: low or normal?"  # was "didn't catch which"
    assert "urgency low" in read_back.text
    brain, conversation = OfflineBrain(), a_call(ORDER_STATUS)
    for said in ("order status, not express", "four two seven"):
        await caller_says(brain, conversation, said)
    working = await caller_says(brain, conversation, "yes")
    assert working.tool_calls[0].arguments["shipping"] == "standard"  # was "express"


@pytest.mark.asyncio
async def test_a_bare_hour_answers_what_time_on_a_day():
    *_, ten = await clinic_turns("I'd like an appointment", "Monday", "10")
    assert "Monday, December 7 at 10 AM" in ten.text  # "10" alone was asked again, forever
    *_, three = await clinic_turns("I'd like an appointment", "next tuesday afternoon", "3")
    assert "Tuesday, December 8 at 3 PM" in three.text


@pytest.mark.asyncio
async def test_no_time_to_what_time_is_a_miss_and_does_not_join_the_day():
    *_, banana, ten = await clinic_turns("I'd like an appointment", "Monday", "banana",
                                         "ten thirty")
    assert banana.text == "Sorry, I didn't catch the time. What time on Monday, December 7?"
    assert "Monday, December 7 at 10:30 AM" in ten.text  # not "Monday banana ten thirty"


@pytest.mark.asyncio
async def test_a_time_alone_at_the_read_back_keeps_the_day():
    *_, changed, done = await clinic_turns("I'd like an appointment", "Monday at 10",
                                           "no, make it 3pm", "yes")
    assert "Monday, December 7 at 3 PM" in changed.text  # was today, Wednesday
    assert done.tool_calls[0].arguments == {"when": "2026-12-07T15:00:00-05:00"}


def test_the_help_line_names_one_question_per_entry():
    from agents.demo_agents import DENTAL
    from learning.quality.text import first_reply

    reply = first_reply(DENTAL, "is the dentist a man or a woman").text
    # "Where are you located? What is your address?" read out whole split the list in two
    assert "where are you located, or how much does a check-up cost." in reply
    assert "insurance" not in first_reply(DENTAL, "do you do payment plans").text


@pytest.mark.asyncio
async def test_a_party_said_after_another_for_is_taken_and_too_big_a_one_said_at_once():
    [asked, named] = await restaurant_turns(
        "could I reserve a table for tomorrow night, there'll be three of us, say half past "
        "seven", "Dana Scully")
    assert asked.text.endswith("What is your name for the booking?")  # not "How many guests?"
    assert "Thursday, December 3 at 7:30 PM, party size 3" in named.text
    [big] = await restaurant_turns("we're a group of 14, can we book for saturday")
    assert "needs to be between 1 and 12" in big.text


@pytest.mark.asyncio
async def test_the_caller_checking_the_line_hears_the_agent_and_the_question_again():
    [asked, there] = await restaurant_turns("table for two on friday", "are you still there")
    assert there.text == f"Yes, I'm here. {asked.text.removeprefix('Sure, I can help with that. ')}"
    [hello] = await restaurant_turns("hello, is anyone there?")
    assert hello.text == "Yes, I'm here. How can I help you?"


@pytest.mark.asyncio
async def test_a_farewell_after_a_reason_ends_the_call():
    *_, bye = await restaurant_turns("table for two on friday at 7",
                                     "oh wait, I need to check with my wife first, bye")
    assert bye.done.end_call
    [asked] = await restaurant_turns("can I switch my booking to a different day, that's it")
    assert not asked.done.end_call


@pytest.mark.asyncio
async def test_a_symptom_with_a_request_to_come_in_starts_the_booking():
    [asked] = await clinic_turns("I have a really bad toothache, can I come in today")
    # the visit was asked for: not offered ("Would you like that?"), and today is kept
    assert asked.text.startswith("I'm sorry to hear that.") and "What time on" in asked.text
    [offered] = await clinic_turns("my tooth hurts")
    assert offered.text.endswith("Would you like that?")


@pytest.mark.asyncio
async def test_next_week_asks_which_day_and_the_day_is_next_weeks():
    *_, week, time_only, day, time_ = await clinic_turns(
        "I'd like to book a cleaning", "sometime next week", "10", "wednesday", "2")
    assert week.text == "Which day next week?"  # was "Sorry, I didn't catch a day or time."
    assert time_only.text == "Sorry, I didn't catch the day. Which day next week?"
    assert day.text == "What time on Wednesday, December 9?"  # not today, Wednesday the 2nd
    assert "Wednesday, December 9 at 2 PM" in time_.text


@pytest.mark.asyncio
async def test_a_time_refused_keeps_its_day():
    refused, six = await restaurant_turns("table for 2 tomorrow at 4", "ok 6 then")
    assert "closed at that time" in refused.text
    assert refused.text.endswith("What time on Thursday, December 3?")  # not the day again
    assert six.text == "Got it. What is your name for the booking?"
    *_, closed_day = await restaurant_turns("book a table for monday at 7")
    assert closed_day.text.endswith("What is the day and time of the reservation?")


@pytest.mark.asyncio
async def test_a_ticket_summary_leaves_out_the_hello():
    from agents.demo_agents import HELP_DESK
    from learning.quality.text import conversation_for

    brain, conversation = OfflineBrain(), conversation_for(HELP_DESK)
    await caller_says(brain, conversation, "hi, it's Dave from accounts, my outlook won't open")
    read_back = await caller_says(brain, conversation, "urgent")
    assert 'summary "my outlook won\'t open"' in read_back.text


@pytest.mark.asyncio
async def test_an_argument_given_out_of_turn_is_taken():
    _, party, _, read_back = await restaurant_turns(
        "I'd like to book a table", "for 4", "saturday at 8", "Kim")
    # "for 4" when asked the day was "Sorry, I didn't catch a day or time"
    assert party.text == "Got it. What is the day and time of the reservation?"
    # read back in the schema's order, not the order the caller gave them
    assert "a table for Saturday, December 5 at 8 PM, party size 4, and name Kim" in read_back.text
    [available] = await clinic_turns("do you have anything available tomorrow afternoon")
    assert available.text.endswith("What time on Thursday, December 3?")


@pytest.mark.asyncio
async def test_a_part_of_the_day_to_what_time_gets_that_days_hours():
    *_, morning, ten = await clinic_turns("I'd like to book", "next monday", "morning", "10")
    assert morning.text == ("Sure. What time in the morning on Monday, December 7? We're open "
                            "9 AM to 5 PM that day.")  # was "Sorry, I didn't catch the time."
    assert "Monday, December 7 at 10 AM" in ten.text


@pytest.mark.asyncio
async def test_help_asked_for_is_offered_and_a_choice_changed_at_the_read_back_is_taken():
    from agents.demo_agents import HELP_DESK
    from learning.quality.text import conversation_for

    brain, conversation = OfflineBrain(), conversation_for(HELP_DESK)
    said = ["hi I need help", "my laptop is really slow", "normal", "no wait, make it urgent"]
    help_, *_, changed = [await caller_says(brain, conversation, words) for words in said]
    assert help_.text == "Of course. What can I help you with?"  # was the help desk's hours
    assert "urgency urgent. Shall I go ahead?" in changed.text  # was "let's fix that"
