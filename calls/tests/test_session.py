"""The call session's decisions: turns, barge-in truncation, DTMF, timers, failures."""

import asyncio

import pytest

from calls.models import Outcome
from calls.realtime.providers.llm.base import ToolCall, ToolResult
from calls.realtime.providers.llm.instant import InstantLLM
from calls.realtime.recovery import CALL_BACK, CANNOT_HEAR
from calls.tests.session_harness import SILENCE, SPEECH, ScriptedSTT, feed, make_session


@pytest.mark.asyncio
async def test_greeting_is_spoken_and_stored_whole_once_its_marks_echo():
    session, wire, store, tts = await make_session(llm=InstantLLM("unused"))

    await feed(session, SILENCE, 1.6)
    await session.finish(Outcome.CALLER_HUNG_UP)

    assert tts.spoken == ["Hello there,", "how can I help?"]
    assert wire.events().count("mark") == 2
    greeting = store.ordered_turns()[0]
    assert greeting["role"] == "agent" and greeting["text"] == "Hello there, how can I help?"
    assert greeting["interrupted"] is False
    assert store.closed["outcome"] == Outcome.CALLER_HUNG_UP


@pytest.mark.asyncio
async def test_caller_turn_gets_a_reply_with_a_latency_breakdown():
    llm = InstantLLM("We open at nine.", first_token_ms=50)
    session, wire, store, _ = await make_session(llm=llm, stt_lines=["when do you open"],
                                                 greeting="")

    await feed(session, SPEECH, 0.4)
    await feed(session, SILENCE, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)

    caller, agent = store.ordered_turns()
    assert caller["role"] == "caller" and caller["text"] == "when do you open"
    assert caller["end_ms"] > caller["start_ms"]
    assert agent["text"] == "We open at nine." and agent["interrupted"] is False
    assert agent["stt_final_ms"] >= 180  # the end-of-turn silence (200 ms, less timer jitter)
    assert agent["llm_first_token_ms"] >= agent["stt_final_ms"] + 40
    assert agent["first_frame_ms"] >= agent["tts_first_audio_ms"] >= agent["llm_first_token_ms"]
    assert session.conversation.messages[-2].text == "when do you open"


@pytest.mark.asyncio
async def test_the_recogniser_is_told_what_the_agents_question_expects():
    from calls.realtime.providers.llm.base import ToolSpec
    from calls.realtime.providers.llm.offline import OfflineBrain

    # given the offline brain with a tool whose argument is a choice
    tool = ToolSpec(name="open_ticket", description="Open a ticket.", trigger_phrases=[
        "open a ticket"], parameters={"type": "object", "required": ["urgency"], "properties": {
            "urgency": {"type": "string", "enum": ["low", "urgent"]}}})
    stt = ScriptedSTT(["I want to open a ticket", "never mind"])
    session, _, _, _ = await make_session(llm=OfflineBrain(), stt=stt, tool_specs=[tool],
                                          greeting="")

    # when the caller asks for the tool, then drops it
    for _ in range(2):
        await feed(session, SPEECH, 0.4)
        await feed(session, SILENCE, 1.0)
    await session.finish(Outcome.CALLER_HUNG_UP)

    # then after the question about urgency the recogniser expected its options, and after
    # the reply that asks nothing in particular, nothing (the options are not kept)
    assert stt.stream.expected == [("low", "urgent"), ()], stt.stream.expected


@pytest.mark.asyncio
async def test_barge_in_clears_twilio_and_stores_only_what_was_heard():
    long_reply = " ".join(["Our full price list is long."] * 6)
    session, wire, store, _ = await make_session(llm=InstantLLM(long_reply),
                                                 stt_lines=["prices please", "stop"],
                                                 greeting="")
    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 0.8)  # the reply starts playing
    frames_before = len(wire.media_frames())

    await feed(session, SPEECH, 0.3)  # the caller talks over it
    while_caller_talks = wire.events()
    await feed(session, SILENCE, 0.2)
    await session.finish(Outcome.CALLER_HUNG_UP)

    assert frames_before > 0
    clear_at = while_caller_talks.index("clear")
    assert "media" not in while_caller_talks[clear_at + 1:]  # nothing queued plays on
    agent = store.ordered_turns()[1]
    assert agent["interrupted"] is True
    assert agent["text"] and len(agent["text"]) < len(long_reply)
    assert long_reply.startswith(agent["text"].rstrip("."))
    barge = [payload for kind, payload in store.events if kind == "barge_in"]
    assert barge and barge[0]["heard"] == agent["text"]
    assert session.metrics["barge_ins"] == 1
    # The model is told what the caller actually heard.
    assert any(m.role == "assistant" and m.text == agent["text"]
               for m in session.conversation.messages)


@pytest.mark.asyncio
async def test_short_noise_does_not_interrupt_the_agent():
    session, wire, store, _ = await make_session(llm=InstantLLM("x"),
                                                 barge_in_min_speech_ms=300)
    await feed(session, SILENCE, 0.3)

    await feed(session, SPEECH, 0.1)  # a cough
    await feed(session, SILENCE, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)

    assert "clear" not in wire.events()
    assert store.ordered_turns()[0]["interrupted"] is False


@pytest.mark.asyncio
async def test_dtmf_digits_reach_the_brain_as_one_caller_input():
    llm = InstantLLM(lambda conversation: f"You pressed {conversation.messages[-1].text}")
    session, wire, store, _ = await make_session(llm=llm, greeting="")

    for digit in "12#":
        session.on_dtmf(digit)
    await feed(session, SILENCE, 1.0)
    await session.finish(Outcome.CALLER_HUNG_UP)

    caller, agent = store.ordered_turns()
    assert caller["text"] == "[DTMF 12#]"
    assert agent["text"] == "You pressed [DTMF 12#]"
    assert [p["digit"] for kind, p in store.events if kind == "dtmf"] == ["1", "2", "#"]


@pytest.mark.asyncio
async def test_silence_reprompts_then_hangs_up_politely():
    hung_up = asyncio.Event()

    async def hangup() -> None:
        hung_up.set()

    session, wire, store, tts = await make_session(
        llm=InstantLLM("x"), greeting="", reprompt_after_s=0.5, hangup_after_s=1.5,
        hangup=hangup)

    await feed(session, SILENCE, 3.0)
    await asyncio.wait_for(session.wait_closed(), 2)

    assert tts.spoken[0] == "Are you still there?"
    assert "Goodbye!" in " ".join(tts.spoken)
    assert hung_up.is_set()
    assert store.closed["outcome"] == Outcome.NO_INPUT


@pytest.mark.asyncio
async def test_the_brain_can_end_the_call_after_its_goodbye_plays():
    session, wire, store, tts = await make_session(
        llm=InstantLLM("Goodbye, take care.", end_call=True), stt_lines=["bye"], greeting="")

    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 1.6)
    await asyncio.wait_for(session.wait_closed(), 2)

    assert store.closed["outcome"] == Outcome.AGENT_ENDED
    assert store.ordered_turns()[-1]["text"] == "Goodbye, take care."
    assert store.ordered_turns()[-1]["interrupted"] is False


@pytest.mark.asyncio
async def test_transfer_request_is_recorded_and_ends_the_stream():
    session, wire, store, _ = await make_session(
        llm=InstantLLM("Transferring you now.", transfer_to="human"), stt_lines=["a human"],
        greeting="")

    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 1.5)
    await asyncio.wait_for(session.wait_closed(), 2)

    assert ("transfer_requested", {"to": "human"}) in store.events
    assert store.closed["outcome"] == Outcome.TRANSFERRED
    # kept for a warm transfer that brings the caller back (calls/transfers.py)
    assert [(m["role"], m["text"]) for m in store.kept_for_transfer
            if m["role"] in ("user", "assistant")][-2:] == [
        ("user", "a human"), ("assistant", "Transferring you now.")]


@pytest.mark.asyncio
async def test_tool_calls_run_in_one_batch_and_their_results_reach_the_brain():
    class Tools:
        def __init__(self) -> None:
            self.batches: list[list[str]] = []

        async def run(self, calls: list[ToolCall]) -> list[ToolResult]:
            self.batches.append([c.name for c in calls])
            return [ToolResult(c.id, c.name, {"ok": True}) for c in calls]

    tools = Tools()
    llm = InstantLLM("Booked.", tool_calls=[ToolCall("a", "book", {}), ToolCall("b", "sms", {})])
    session, wire, store, tts = await make_session(llm=llm, stt_lines=["book it"], greeting="",
                                                   tools=tools)

    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 1.5)
    await session.finish(Outcome.CALLER_HUNG_UP)

    assert tools.batches == [["book", "sms"]]
    assert tts.spoken[0] == "One moment, please."  # filler instead of dead air
    assert store.ordered_turns()[-1]["text"] == "One moment, please. Booked."
    tool_message = [m for m in session.conversation.messages if m.role == "tool"][0]
    assert [r.call_id for r in tool_message.tool_results] == ["a", "b"]


@pytest.mark.asyncio
async def test_a_crashing_recogniser_ends_the_call_out_loud_with_everything_saved():
    session, wire, store, _ = await make_session(llm=InstantLLM("x"), stt_fail=True,
                                                 greeting="Hi.")
    await feed(session, SILENCE, 0.5)

    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 0.5)
    await asyncio.wait_for(session.wait_closed(), 10)

    assert store.closed["outcome"] == Outcome.ERROR
    turns = store.ordered_turns()
    assert turns[0]["text"] == "Hi."
    # the caller is told, not left in silence
    assert turns[-1]["text"] == f"{CANNOT_HEAR} {CALL_BACK}"
    assert any(kind == "provider_error" for kind, _ in store.events)


@pytest.mark.asyncio
async def test_finish_on_a_dropped_connection_keeps_the_partial_agent_turn():
    session, wire, store, _ = await make_session(
        llm=InstantLLM("x"), greeting="This is a rather long greeting that takes a while.")
    await feed(session, SILENCE, 0.3)

    await session.finish(Outcome.DISCONNECTED)

    greeting = store.ordered_turns()[0]
    assert greeting["interrupted"] is True
    assert greeting["text"].startswith("This is")
    assert store.closed["outcome"] == Outcome.DISCONNECTED


@pytest.mark.parametrize(
    ("said", "answer"),
    [("Yes, that's fine.", True), ("sure", True), ("No thanks.", False),
     ("I'd rather not", False), ("[DTMF 1]", True), ("[DTMF 2#]", False), ("pardon?", None),
     ("[DTMF 9]", None)],
)
def test_consent_answers(said, answer):
    from calls.realtime.consent import consent_answer

    assert consent_answer(said) is answer


@pytest.mark.asyncio
async def test_the_recogniser_hears_caller_turns_with_a_pre_roll_not_the_silences():
    stt = ScriptedSTT(["hi"])
    session, wire, store, _ = await make_session(llm=InstantLLM("ok"), stt=stt, greeting="")
    stream = stt.stream

    await feed(session, SILENCE, 1.0)
    silent_frames = stream.frames
    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 0.6)
    await session.finish(Outcome.CALLER_HUNG_UP)

    assert silent_frames == 0
    # 400 ms pre-roll + 300 ms of speech + the 200 ms of silence that ended the turn.
    assert 40 <= stream.frames <= 50
    assert store.ordered_turns()[0]["text"] == "hi"


@pytest.mark.asyncio
async def test_what_the_call_is_doing_is_noted_for_live_dashboards_as_it_changes():
    class SlowTools:
        async def run(self, calls: list[ToolCall]) -> list[ToolResult]:
            await asyncio.sleep(0.7)
            return [ToolResult(c.id, c.name, {"ok": True}) for c in calls]

    llm = InstantLLM("Booked.", tool_calls=[ToolCall("a", "book", {})], first_token_ms=600)
    session, wire, store, tts = await make_session(llm=llm, stt_lines=["book it"],
                                                   tools=SlowTools())
    await feed(session, SILENCE, 1.5)  # the greeting plays
    await feed(session, SPEECH, 0.6)
    await feed(session, SILENCE, 4.0)
    await session.finish(Outcome.CALLER_HUNG_UP)

    # sampled every 250 ms, each change once, in the order the call lived them (the greeting's
    # synthesis before its first audio may or may not fall on a sample)
    states = store.states[1:] if store.states[0] == "thinking" else store.states
    assert states == ["speaking", "listening", "thinking", "tool", "speaking", "listening"]


@pytest.mark.asyncio
async def test_a_routed_turn_records_its_model_and_reason_and_is_priced_as_the_fast_tier(
        settings):
    from calls.realtime.providers.llm.base import Done, TextDelta, Usage

    class RoutedLLM(InstantLLM):
        async def respond(self, conversation):
            yield TextDelta("Sure.")
            yield Done(usage=Usage(input_tokens=100, output_tokens=3), model="haiku",
                       tier="fast", route_reason="confirmation or small talk")

    settings.PRICE_INSTANT_FAST_LLM_INPUT_PER_MTOK = 10.0
    session, wire, store, _ = await make_session(llm=RoutedLLM("x"), stt_lines=["yes"],
                                                 greeting="")
    await feed(session, SPEECH, 0.3)
    await feed(session, SILENCE, 1.2)
    await session.finish(Outcome.CALLER_HUNG_UP)

    agent_turn = store.ordered_turns()[-1]
    assert agent_turn["usage"]["model"] == "haiku"
    assert agent_turn["usage"]["route"] == "confirmation or small talk"
    assert session.costs.llm_tokens["instant_fast"]["input"] == 100
    assert agent_turn["usage"]["llm_usd"] == 0.001  # 100 tokens at $10 per million
    assert "instant" not in session.costs.llm_tokens
