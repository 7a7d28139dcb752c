"""Everything a live call needs from the database, loaded once when its stream starts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Max
from django.utils import timezone

from aybiza.core.text import sentences
from calls.call_variables import fill, variables_open
from calls.models import Call, Direction
from calls.realtime.agent_providers import llm_options, tenant_credentials, with_credentials
from calls.realtime.call_control import with_call_control
from calls.realtime.opening_audio import cached_opening, clauses_of, opening_lines
from calls.realtime.ports import SessionConfig
from calls.realtime.providers.failover import build_from_options
from calls.realtime.providers.llm.base import (
    Conversation,
    Message,
    ToolResult,
    ToolSpec,
    message_from_dict,
)
from calls.realtime.providers.stt.base import STTOptions
from calls.realtime.providers.tts.base import TTSOptions
from calls.realtime.question_phrases import could_phrases, question_phrases
from calls.realtime.slot_phrases import keyword_phrases, problem_phrases, slot_phrases
from calls.selectors import call_for_stream
from calls.services import call_stream_started
from calls.transfers import apology, transfer_conversation, transfer_resume_claim
from calls.twilio import StreamToken
from memory.selectors import Remembered, remembered
from memory.working import working_memory_take


class StreamRejected(Exception):
    """The stream's token does not match a call we issued it for."""


@dataclass
class LoadedStream:
    call: Call
    config: SessionConfig
    stt: object
    llm: object
    tts: object
    vad: object
    failover: FailoverRelay


def load_stream(*, token: StreamToken, call_sid: str, stream_sid: str) -> LoadedStream:
    """Bind a starting media stream to its call (sync: run through database_sync_to_async)."""
    call = call_for_stream(tenant_id=token.tenant_id, call_id=token.call_id)
    if call is None or call.call_sid != call_sid:
        raise StreamRejected("The stream token does not match this call.")
    if call.agent is None:
        raise StreamRejected("The call has no agent.")
    transfer = None
    if token.transfer_id is not None:  # the caller is back from a warm transfer
        transfer = transfer_resume_claim(call=call, transfer_id=token.transfer_id,
                                         stream_sid=stream_sid)
        if transfer is None:
            raise StreamRejected("This transfer's stream token was already used.")
    elif not call_stream_started(call=call, stream_sid=stream_sid):
        raise StreamRejected("This call's stream token was already used.")
    agent, knowledge, tools, fillers, document_ids = _what_the_call_runs(call)
    # The caller's memory: per call, never part of the version (memory/).
    remembers = bool(call.agent.remember_callers and call.contact is not None
                     and not call.contact.do_not_remember)
    known = remembered(call.contact) if call.agent.remember_callers else Remembered()
    tools = with_call_control(tools, llm_provider=agent.llm_provider, memory=remembers)
    vocabulary = stt_vocabulary(knowledge, tools, agent.recognition_keywords)
    # A call that dropped mid-conversation within the agent's window goes on (memory/working).
    resumed = working_memory_take(call=call) if remembers else None
    outbound = call.direction == Direction.OUTBOUND
    variables = variables_open(call.tenant, call.variables_sealed)
    conversation = Conversation(system_prompt=fill(agent.system_prompt, variables), tools=tools,
                                knowledge=knowledge, language=agent.language,
                                caller_name=known.name, memory=known.facts,
                                business_hours=agent.business_hours, timezone=agent.timezone)
    greeting, voicemail_message = outbound_opening(agent, variables) if outbound \
        else (agent.greeting, "")
    greeting_lines = welcome_back(greeting, known)
    if resumed is not None:
        conversation.messages = [message_from_dict(m) for m in resumed.messages]
        greeting_lines = [resume_greeting(conversation.messages[-1].text, known)]
    opening = opening_lines(agent)
    recording_mode, first_turn_index, first_offset_ms = agent.recording_mode, 0, 0
    if transfer is not None:  # the same conversation goes on, after an apology
        conversation.messages = _tool_calls_answered(
            [message_from_dict(m) for m in transfer_conversation(transfer)], apology(transfer))
        greeting_lines, opening = [apology(transfer)], []
        recording_mode = _recording_mode_after_transfer(call, agent.recording_mode)
        last = call.turns.aggregate(last=Max("index"))["last"]
        first_turn_index = last + 1 if last is not None else 0
        began = call.stream_started_at or call.started_at
        first_offset_ms = max(0, int((timezone.now() - began).total_seconds() * 1000))
    # The opening's prepared audio, fetched with the rest (never on the call's event loop).
    audio_key = (agent.tts_provider, agent.voice, agent.language)
    prepared = cached_opening(provider=audio_key[0], voice=audio_key[1], language=audio_key[2],
                              lines=[*greeting_lines, *opening, voicemail_message])
    config = SessionConfig(
        call_id=call.id, tenant_id=call.tenant_id, agent_id=agent.id,
        conversation=conversation, greeting=" ".join(greeting_lines),
        greeting_lines=greeting_lines,
        resumed_from_call_id=resumed.from_call_id if resumed is not None else None,
        end_of_turn_silence_ms=agent.end_of_turn_silence_ms,
        smart_end_of_turn=agent.smart_end_of_turn,
        barge_in_min_speech_ms=agent.barge_in_min_speech_ms,
        reprompt_after_s=agent.reprompt_after_s, hangup_after_s=agent.hangup_after_s,
        max_call_seconds=agent.max_call_seconds, reprompt_text=agent.reprompt_text,
        goodbye_text=agent.goodbye_text, recording_mode=recording_mode,
        # Said once per call: not again when the caller comes back from a transfer.
        recording_disclosure=agent.recording_disclosure if transfer is None else "",
        consent_prompt=agent.consent_prompt if transfer is None else "",
        first_turn_index=first_turn_index,
        first_offset_ms=first_offset_ms,
        stt_options=STTOptions(language=agent.language, vocabulary=vocabulary,
                               endpointing_ms=min(agent.end_of_turn_silence_ms, 500)),
        tts_options=TTSOptions(voice=agent.voice, language=agent.language),
        tool_fillers=fillers, remembers_caller=remembers, document_ids=document_ids,
        opening_audio=prepared, opening_audio_key=audio_key,
        opening_to_keep=frozenset(clauses_of(opening)) - set(prepared),
        voicemail_message=voicemail_message,
        answered_by=call.answered_by,
        # Every call the dialer places asks for async machine detection (calls/outbound.py).
        awaiting_machine_verdict=outbound and transfer is None and not call.answered_by,
    )
    options = agent.provider_options or {}
    chains = {"stt": (agent.stt_provider, options.get("stt")),
              "llm": (agent.llm_provider, llm_options(agent, options)),
              "tts": (agent.tts_provider, options.get("tts"))}
    credentials = tenant_credentials(call.tenant, chains)
    relay = FailoverRelay()
    stt, llm, tts = (
        build_from_options(kind, primary, with_credentials(primary, kind_options, credentials),
                           on_failover=relay)
        for kind, (primary, kind_options) in chains.items()
    )
    return LoadedStream(call=call, config=config, stt=stt, llm=llm, tts=tts,
                        vad=build_vad(**options.get("vad", {})), failover=relay)


def _tool_calls_answered(messages: list[Message], note: str) -> list[Message]:
    """The stream may have ended before the transfer tool's result came back: a brain is never
    handed a tool call without its result (Bedrock and OpenAI refuse such a conversation)."""
    answered = {r.call_id for m in messages if m.role == "tool" for r in m.tool_results}
    open_calls = [c for m in messages if m.role == "assistant" for c in (m.tool_calls or [])
                  if c.id not in answered]
    if open_calls:
        messages.append(Message(role="tool", tool_results=[
            ToolResult(c.id, c.name, f"The transfer did not connect. {note}", True)
            for c in open_calls]))
    return messages


def _recording_mode_after_transfer(call: Call, mode: str) -> str:
    """The caller already answered the consent question (or never was asked): keep to it."""
    if mode != "after_consent":
        return mode
    from compliance.selectors import consent_granted

    return "on" if consent_granted(tenant=call.tenant, call=call, kind="recording") else "off"


def outbound_opening(agent, variables: dict[str, str]) -> tuple[str, str]:
    """An outbound call's greeting and voicemail message, filled with the call's variables (the
    loader, and the preparation of their audio before the call is answered)."""
    return (fill(agent.outbound_greeting or agent.greeting, variables),
            fill(agent.voicemail_message, variables))


def welcome_back(greeting: str, known: Remembered) -> list[str]:
    """The greeting's lines, opened for a caller the agent remembers (by first name when
    known). Spoken line by line: the agent's own greeting stays whole, so its prepared audio
    plays after a personal "Welcome back, Sam!"."""
    if not greeting:
        return []
    if known.empty:
        return [greeting]
    return [f"Welcome back, {known.name.split()[0]}!" if known.name else "Welcome back!",
            greeting]


def resume_greeting(last_question: str, known: Remembered) -> str:
    """The greeting of a call that continues a dropped one: the question the caller did not
    get to answer, asked again ("What day and time would you like?")."""
    question = (sentences(last_question) or [last_question])[-1]
    opening = f"Welcome back, {known.name.split()[0]}!" if known.name else "Welcome back!"
    return f"{opening} We got cut off, so let's carry on. {question}"


class FailoverRelay:
    """Provider chains report a switch here; the session (set once it exists) acts on it."""

    def __init__(self) -> None:
        self.session = None

    def __call__(self, kind: str, from_name: str, to_name: str, error: BaseException) -> None:
        if self.session is not None:
            self.session.on_provider_failover(kind, from_name, to_name, error)


def build_vad(**options):
    """The per-call voice activity detector: webrtcvad unless the agent's options name
    `{"vad": {"backend": "silero"}}` (and its aggressiveness or threshold)."""
    from calls.realtime.vad import VoiceActivityDetector

    return VoiceActivityDetector(**options)


def stt_vocabulary(knowledge: list[tuple[str, str]], tools: list[ToolSpec],
                   keywords: Sequence[str] = ()) -> list[str]:
    """What callers of this agent are likely to say: the words the business listed (first:
    Deepgram takes the first 50 as keyterms), its questions, its tools' triggers, the answers
    its tools' arguments take (days and times, counts, options), the keywords in the
    sentences callers put them in, the other ways callers ask its questions, and the polite
    "could" of its "can I" requests."""
    questions = [question for question, _ in knowledge]
    phrases = [*keywords, *questions,
               *(phrase for tool in tools for phrase in tool.trigger_phrases),
               *slot_phrases(tools), *question_phrases(questions), *keyword_phrases(keywords),
               *problem_phrases(tools, keywords)]
    return [*phrases, *could_phrases(phrases)]


def agent_stt_vocabulary(agent) -> list[str]:
    """`stt_vocabulary` of an agent, read from the database (warm-up uses it)."""
    from tools.selectors import tool_specs_for_agent

    knowledge = [(k.question, k.answer) for k in agent.knowledge.order_by("id")]
    return stt_vocabulary(knowledge, tool_specs_for_agent(tenant=agent.tenant, agent=agent),
                          agent.recognition_keywords)


def _what_the_call_runs(call: Call):
    """The agent's fields, knowledge, tools, fillers and document ids of the version the call
    records; calls from before versions existed (no version) run the agent as it is now."""
    from tools.selectors import tool_fillers_for_agent, tool_specs_for_agent

    agent = call.agent
    version = _runnable_version(call)
    if version is not None:
        return (version.agent, version.knowledge, version.tools, version.fillers,
                version.document_ids)
    knowledge = [(k.question, k.answer) for k in agent.knowledge.order_by("id")]
    return (agent, knowledge, tool_specs_for_agent(tenant=call.tenant, agent=agent),
            tool_fillers_for_agent(tenant=call.tenant, agent=agent),
            list(agent.documents.order_by("id").values_list("id", flat=True)))


def agent_of_call(call: Call):
    """The agent's fields as the call runs them: its version's, or the agent's as it is now."""
    version = _runnable_version(call)
    return version.agent if version is not None else call.agent


def _runnable_version(call: Call):
    from agents.versions import runnable

    if call.agent_version is not None and call.agent_version.agent_id == call.agent_id:
        return runnable(call.agent_version, call.agent)
    return None
