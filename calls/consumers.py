"""Twilio Media Streams WebSocket: authenticate, decode, and hand everything to the CallSession.

Thin on purpose. The message loop (and with it every use of Channels' internals) is
`aybiza/server/channels_loop.py`; this consumer only says which messages it takes fast (media
frames, `receive_fast`). Decisions live in `calls/realtime/session.py`; Twilio's JSON in
`calls/realtime/serializers/twilio.py`; database access in `calls/realtime/loader.py` and the
session's store.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import weakref
from collections.abc import Awaitable
from functools import partial

from channels.db import database_sync_to_async
from django.conf import settings

from aybiza.core import metrics, tracing
from aybiza.core.log_context import bind_call
from aybiza.server.channels_loop import LeanLoopConsumer
from calls import twilio
from calls.models import Outcome
from calls.realtime.knowledge import DocumentSearch
from calls.realtime.loader import StreamRejected, load_stream
from calls.realtime.outbox import outbox_for
from calls.realtime.pacer import FRAME_BYTES, Pacer
from calls.realtime.persistence import CallStore
from calls.realtime.recorder import CallRecorder
from calls.realtime.serializers.twilio import (
    Connected,
    Dtmf,
    Mark,
    OutboundEncoder,
    ProtocolError,
    Start,
    Stop,
    parse_inbound,
)
from calls.realtime.session import CallSession
from calls.realtime.tooling import ToolRunner
from compliance.services import security_event

logger = logging.getLogger(__name__)
# How long a shutting-down server gives its live calls to save themselves.
SHUTDOWN_GRACE_S = 10.0
# The server is shutting down (SIGTERM). Not 1001 "going away": autobahn (daphne) only lets an
# application send 1000 or 3000-4999, and raised on 1001 (found by the real-daphne SIGTERM test).
CLOSE_SHUTTING_DOWN = 4503
# Consumers with a live call in this process, for the shutdown drain (weak: nothing kept alive).
_live_calls: weakref.WeakSet = weakref.WeakSet()
# Set when the server started shutting down: /readyz answers 503 so the balancer sends no more.
draining = threading.Event()


def end_live_calls(timeout_s: float = SHUTDOWN_GRACE_S) -> Awaitable[int]:
    """Server shutdown (SIGTERM): end every live call of this process as `server_shutdown`, its
    transcript, recording and row saved, before the process exits. Returns the calls ended.

    The outcome is set at once, synchronously: daphne cancels the applications right after the
    shutdown hooks are called, and whichever path then closes a call must record this outcome.
    """
    draining.set()
    consumers = list(_live_calls)
    for consumer in consumers:
        if consumer.session is not None:
            consumer.session.ending_because(Outcome.SERVER_SHUTDOWN)
    return _drain(consumers, timeout_s)


async def _drain(consumers: list[MediaStreamConsumer], timeout_s: float) -> int:
    if consumers:
        # Each in a context of its own: the hook may be called from inside a database call
        # (a signal arrives at any moment), and asgiref takes a copy of that context for one
        # more nested call that would deadlock, and refuses it.
        loop = asyncio.get_running_loop()
        await asyncio.wait([loop.create_task(_shut_down(c), context=contextvars.Context())
                            for c in consumers], timeout=timeout_s)
    return len(consumers)


async def _shut_down(consumer: MediaStreamConsumer) -> None:
    try:
        await consumer._end(Outcome.SERVER_SHUTDOWN)
        await consumer.close(code=CLOSE_SHUTTING_DOWN)
    except Exception:
        logger.exception("Could not end call %s at shutdown", consumer.call_sid)

CLOSE_POLICY = 4403  # rejected signature or token
CLOSE_PROTOCOL = 4400  # sustained garbage
# Our own failure. Not 1011: autobahn (daphne) only lets an application send 1000 or 3000-4999.
CLOSE_SERVER_ERROR = 4500


class MediaStreamConsumer(LeanLoopConsumer):
    session: CallSession | None = None

    def _init_stream_state(self) -> None:
        self.session = None
        self.bad_messages: dict[str, int] = {}
        self.consecutive_bad = 0
        self.ended = False
        self.closing = False
        self.call_sid = ""
        self.call_span = None  # OpenTelemetry, when tracing is on (aybiza.core.tracing)
        self.max_message_bytes = settings.MEDIA_STREAM_MAX_MESSAGE_BYTES
        self.call_group = ""
        self.answered_by_early = ""

    async def connect(self) -> None:
        self._init_stream_state()
        if not twilio.handshake_signature_valid(dict(self.scope["headers"]), self.scope["path"]):
            logger.warning("Rejected media stream handshake with a bad signature")
            await database_sync_to_async(security_event)(
                kind="twilio.stream_signature_rejected", detail={})
            await self.close()  # before accept(): the handshake is refused (HTTP 403)
            return
        await self.accept()

    def connection_started(self) -> None:
        # Under `python -m aybiza.server` media frames do not even come through `receive`: the
        # server hands them to `try_receive_fast` (the `aybiza.websocket.direct` extension) and
        # outbound messages leave through the call's outbox without a coroutine each.
        self.outbox = outbox_for(self.direct, self.base_send)

    def connection_finished(self) -> None:
        self.outbox.close()

    async def receive_fast_failed(self) -> None:
        await self._fail()  # feeding a media frame raised: fail the call

    def receive_fast(self, text: str) -> bool:
        return self._feed_media(text)

    def _feed_media(self, text: str) -> bool:
        """The per-frame path: True when `text` was a media frame and the session has it.

        Anything else (control messages, garbage, frames before `start` or after closing) returns
        False and takes the full path in `receive`, which parses it again: those are rare.
        """
        session = self.session
        if session is None or self.closing or len(text) > self.max_message_bytes:
            return False
        try:
            audio = parse_inbound(text)
        except ProtocolError:
            return False
        if type(audio) is not bytes:
            return False
        self._feed_audio(session, audio)
        return True

    def _feed_audio(self, session: CallSession, audio: bytes) -> None:
        self.consecutive_bad = 0
        if len(audio) == FRAME_BYTES:
            session.on_audio(audio)
        else:  # Twilio sends 20 ms frames; anything else is re-cut to 20 ms
            for start in range(0, len(audio) - FRAME_BYTES + 1, FRAME_BYTES):
                session.on_audio(audio[start:start + FRAME_BYTES])

    # Complexity over the limit on purpose: the per-frame dispatch of the media stream: one
    # function, no extra call per frame.
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:  # noqa: C901
        if self.closing:
            return  # messages already in flight when we closed
        raw = text_data if text_data is not None else bytes_data
        if raw is None or len(raw) > self.max_message_bytes:
            await self._bad("oversized" if raw is not None else "empty")
            return
        try:
            event = parse_inbound(raw)
        except ProtocolError as exc:
            await self._bad(exc.kind)
            return
        session = self.session
        try:
            if type(event) is bytes:
                if session is None:
                    await self._bad("media_before_start")
                else:  # a frame that arrived while another handler held the lock
                    self._feed_audio(session, event)
                return
            self.consecutive_bad = 0
            if isinstance(event, Start):
                await self._start(event)
            elif isinstance(event, Connected):
                return  # Twilio's hello; nothing to do
            elif session is None:
                if isinstance(event, Stop):
                    await self.close()
                else:
                    self._count_bad(f"{type(event).__name__.lower()}_before_start")
            elif isinstance(event, Mark):
                session.on_mark(event.name)
            elif isinstance(event, Dtmf):
                session.on_dtmf(event.digit)
            elif isinstance(event, Stop):
                await self._end(Outcome.CALLER_HUNG_UP)
                await self.close()
        except Exception:
            await self._fail()

    async def _fail(self) -> None:
        """Our own error while handling a message: log it, close the call row and the socket."""
        logger.exception("Media stream failed for call %s", self.call_sid)
        await self._end(Outcome.ERROR)
        await self.close(code=CLOSE_SERVER_ERROR)

    async def disconnect(self, code: int) -> None:
        await self._end(Outcome.DISCONNECTED)
        if self.call_group and self.channel_layer is not None:
            await self.channel_layer.group_discard(self.call_group, self.channel_name)

    async def call_answered_by(self, message: dict) -> None:
        """Twilio's answering-machine result for this outbound call (outbound_webhooks)."""
        answered_by = str(message.get("answered_by", ""))
        if self.session is not None:
            self.session.on_answered_by(answered_by)
        else:  # the stream is still loading: the session takes it when it starts
            self.answered_by_early = answered_by

    async def tool_result(self, message: dict) -> None:
        """A tool's result from a worker, over the channel layer."""
        if self.session is not None:
            self.session.on_tool_result(message)

    # ------------------------------------------------------------------------------------------
    async def _start(self, start: Start) -> None:
        if self.session is not None:
            self._count_bad("duplicate_start")
            return
        token = twilio.stream_token_verify(
            start.custom_parameters.get(twilio.STREAM_TOKEN_PARAMETER, ""))
        if token is None:
            logger.warning("Media stream for %s with a bad or expired token", start.call_sid)
            await self.close(code=CLOSE_POLICY)
            return
        await self._join_call_group(token.call_id)
        try:
            loaded = await database_sync_to_async(load_stream)(
                token=token, call_sid=start.call_sid, stream_sid=start.stream_sid)
        except StreamRejected as exc:
            logger.warning("Media stream for %s rejected: %s", start.call_sid, exc)
            await self.close(code=CLOSE_POLICY)
            return
        await self._run_session(loaded, call_sid=start.call_sid, stream_sid=start.stream_sid)

    async def _join_call_group(self, call_id: int) -> None:
        if self.channel_layer is not None:
            self.call_group = twilio.live_call_group(call_id)
            await self.channel_layer.group_add(self.call_group, self.channel_name)

    @staticmethod
    def _knowledge_for(loaded) -> DocumentSearch | None:
        ids = loaded.config.document_ids
        return DocumentSearch(tenant_id=loaded.config.tenant_id, document_ids=ids) if ids \
            else None

    def _store_for(self, loaded) -> CallStore:
        """Where the session saves the call (a browser call also shows it live)."""
        return CallStore(loaded.call)

    def _tools_for(self, loaded) -> ToolRunner:
        """Who runs the call's tools: Celery workers, results back over the channel layer."""
        return ToolRunner(tenant_id=loaded.call.tenant_id, call_id=loaded.call.id,
                          agent_id=loaded.config.agent_id,
                          reply_channel=getattr(self, "channel_name", "") or "")

    async def _run_session(self, loaded, *, call_sid: str, stream_sid: str) -> None:
        """The stream is bound to its call: build the call's session and start it."""
        self.call_sid = call_sid
        # Every log line of this call from here on names it (aybiza.core.log_context).
        self.log_context = bind_call(tenant_id=loaded.call.tenant_id, call_sid=call_sid)
        logger.info("Call started: agent %s, stream %s", loaded.config.agent_id, stream_sid)
        self.call_span = tracing.start_call_span(
            tenant_id=loaded.call.tenant_id, call_sid=call_sid,
            agent_id=loaded.config.agent_id, direction=loaded.call.direction)
        encoder = OutboundEncoder(stream_sid)
        recorder = CallRecorder() if loaded.config.recording_mode != "off" else None
        pacer = Pacer.for_running_loop()
        outbound = pacer.outbound(
            encoder, self.outbox.send, tap=recorder.add_outbound if recorder else None,
            frames_per_message=settings.MEDIA_OUTBOUND_MESSAGE_MS // 20)
        store = self._store_for(loaded)
        tools = self._tools_for(loaded)
        tools.traceparent = tracing.traceparent(self.call_span)
        self.session = CallSession(
            config=loaded.config, stt=loaded.stt, llm=loaded.llm, tts=loaded.tts,
            vad=loaded.vad, outbound=outbound, send_control=self.outbox.send,
            clear_message=encoder.clear(), store=store, tools=tools, recorder=recorder,
            hangup=self._hang_up, pacer=pacer, knowledge=self._knowledge_for(loaded),
        )
        loaded.failover.session = self.session
        self.session.call_span = self.call_span
        _live_calls.add(self)
        metrics.ACTIVE_CALLS.inc()
        if self.bad_messages:
            store.record_event("malformed_messages", dict(self.bad_messages))
        if self.direct is not None:
            # Fed inside this call's context: its log lines carry the call (one C call a frame).
            self.direct.set_receiver(partial(contextvars.copy_context().run,
                                             self.try_receive_fast))
        try:
            await self.session.start()
            if self.answered_by_early:
                self.session.on_answered_by(self.answered_by_early)
        except Exception as exc:
            logger.exception("Could not start the call session for %s", call_sid)
            store.record_event("provider_error", {"kind": "start", "error": str(exc)[:300]})
            await self._end(Outcome.ERROR)
            await self.close(code=CLOSE_SERVER_ERROR)

    async def close(self, code=None, reason=None) -> None:
        self.closing = True
        if self.session is not None:
            await self.outbox.drain()  # what the call sent goes out before the close frame
        await super().close(code=code, reason=reason)

    async def _hang_up(self) -> None:
        """End the phone call: through Twilio's REST API when configured, else close the stream."""
        if settings.TWILIO_ACCOUNT_SID and self.call_sid:
            try:
                await asyncio.to_thread(twilio.hang_up_call, self.call_sid)
            except Exception:
                logger.exception("Twilio hang-up failed for %s; closing the stream", self.call_sid)
        await self.close()

    async def _end(self, outcome: str) -> None:
        if self.ended:
            if self.session is not None:
                await self.session.finish(outcome)  # waits for the first close to complete
            return
        self.ended = True
        if self in _live_calls:
            _live_calls.discard(self)
            metrics.ACTIVE_CALLS.dec()
        if self.session is not None:
            if self.bad_messages:
                self.session.metrics["malformed_messages"] = dict(self.bad_messages)
            await self.session.finish(outcome)
        tracing.end_span(self.call_span, outcome=outcome)
        self.call_span = None

    def _count_bad(self, kind: str) -> None:
        self.bad_messages[kind] = self.bad_messages.get(kind, 0) + 1
        self.consecutive_bad += 1

    async def _bad(self, kind: str) -> None:
        """Count a malformed message; close only when garbage is all the peer sends."""
        self._count_bad(kind)
        if self.consecutive_bad >= settings.MEDIA_STREAM_MAX_BAD_MESSAGES:
            logger.warning("Closing media stream %s: %d malformed messages in a row",
                           self.call_sid, self.consecutive_bad)
            if self.session is not None:
                self.session.store.record_event("protocol_violation", dict(self.bad_messages))
            await self._end(Outcome.PROTOCOL_VIOLATION)
            await self.close(code=CLOSE_PROTOCOL, reason="too many malformed messages")

