"""Everything a live call needs from the database, loaded once when its stream starts."""

from __future__ import annotations

from dataclasses import dataclass

from calls.models import Call
from calls.realtime.providers.failover import build_from_options
from calls.realtime.providers.llm.base import Conversation, ToolSpec
from calls.realtime.providers.stt.base import STTOptions
from calls.realtime.providers.tts.base import TTSOptions
from calls.realtime.session import SessionConfig
from calls.selectors import call_by_id
from calls.services import call_stream_started
from calls.twilio import StreamToken


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
    call = call_by_id(call_id=token.call_id)
    if call is None or call.tenant_id != token.tenant_id or call.call_sid != call_sid:
        raise StreamRejected("The stream token does not match this call.")
    if call.agent is None:
        raise StreamRejected("The call has no agent.")
    if call.stream_sid and call.outcome:
        raise StreamRejected("This call's stream already ended.")
    agent = call.agent
    call_stream_started(call=call, stream_sid=stream_sid)
    knowledge = [(k.question, k.answer) for k in agent.knowledge.order_by("id")]
    tools, fillers = _tool_specs(call)
    vocabulary = [q for q, _ in knowledge] + [p for t in tools for p in t.trigger_phrases]
    config = SessionConfig(
        call_id=call.id, tenant_id=call.tenant_id, agent_id=agent.id,
        conversation=Conversation(system_prompt=agent.system_prompt, tools=tools,
                                  knowledge=knowledge, language=agent.language),
        greeting=agent.greeting,
        end_of_turn_silence_ms=agent.end_of_turn_silence_ms,
        barge_in_min_speech_ms=agent.barge_in_min_speech_ms,
        reprompt_after_s=agent.reprompt_after_s, hangup_after_s=agent.hangup_after_s,
        max_call_seconds=agent.max_call_seconds, reprompt_text=agent.reprompt_text,
        goodbye_text=agent.goodbye_text, recording_mode=agent.recording_mode,
        recording_disclosure=agent.recording_disclosure, consent_prompt=agent.consent_prompt,
        stt_options=STTOptions(language=agent.language, vocabulary=vocabulary,
                               endpointing_ms=min(agent.end_of_turn_silence_ms, 500)),
        tts_options=TTSOptions(voice=agent.voice, language=agent.language),
        tool_fillers=fillers,
    )
    options = agent.provider_options or {}
    relay = FailoverRelay()
    stt = build_from_options("stt", agent.stt_provider, options.get("stt"), on_failover=relay)
    llm = build_from_options("llm", agent.llm_provider, _llm_options(agent, options),
                             on_failover=relay)
    tts = build_from_options("tts", agent.tts_provider, options.get("tts"), on_failover=relay)
    return LoadedStream(call=call, config=config, stt=stt, llm=llm, tts=tts,
                        vad=build_vad(**options.get("vad", {})), failover=relay)


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


def _llm_options(agent, options: dict) -> dict:
    llm_options = dict(options.get("llm") or {})
    if agent.llm_model and agent.llm_provider in ("bedrock", "openai"):
        llm_options.setdefault("model", agent.llm_model)
    return llm_options


def _tool_specs(call: Call) -> tuple[list[ToolSpec], dict[str, str]]:
    from tools.selectors import tool_fillers_for_agent, tool_specs_for_agent

    return (tool_specs_for_agent(tenant=call.tenant, agent=call.agent),
            tool_fillers_for_agent(tenant=call.tenant, agent=call.agent))
