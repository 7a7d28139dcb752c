"""Evaluation calls: one scenario of an agent's suite played as a phone call inside this process
(learning/audio_eval.py).

The simulator's media-stream peer (Twilio's side) talks to `EvalStreamConsumer` — the phone
consumer, with the same loader, CallSession, speech providers and pacing — through an ASGI
communicator instead of a socket, so a Celery worker or a command evaluates in audio mode with
no server, no port and no Twilio. The consumer is never routed: nothing outside this process can
reach it, so there is no Twilio signature to check. Tools are recorded and answered
`{"ok": true}`, as in text mode: a test books nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from asgiref.testing import ApplicationCommunicator
from websockets.exceptions import ConnectionClosedOK

from calls.consumers import MediaStreamConsumer
from calls.models import Role
from calls.realtime.persistence import CallStore
from calls.realtime.providers.llm.base import ToolCall, ToolResult
from calls.realtime.tooling import ToolRunner

TOOL_CALLS_KEY = "aybiza.eval_tool_calls"  # in the scope: where the consumer records tool calls
AGENT_SAID_KEY = "aybiza.eval_agent_said"  # and what the agent said, turn by turn, as it said it
OPEN_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 30.0  # the session's last writes (turns, metrics, the call row)


class RecordingToolRunner(ToolRunner):
    """Records each tool call (with its arguments) into `recorded` and answers it at once."""

    def __init__(self, recorded: list[ToolCall], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorded = recorded

    async def run(self, calls: list[ToolCall]) -> list[ToolResult]:
        self.recorded.extend(calls)
        return [ToolResult(call.id, call.name, {"ok": True}) for call in calls]

    def on_result(self, message: dict[str, Any]) -> None:
        return None  # nothing was sent to a worker


class EvalStreamConsumer(MediaStreamConsumer):
    async def connect(self) -> None:
        self._init_stream_state()
        await self.accept()

    def _tools_for(self, loaded) -> ToolRunner:
        return RecordingToolRunner(self.scope[TOOL_CALLS_KEY], tenant_id=loaded.call.tenant_id,
                                   call_id=loaded.call.id, agent_id=loaded.config.agent_id,
                                   reply_channel="")

    def _store_for(self, loaded) -> CallStore:
        return SaidRecordingStore(super()._store_for(loaded), self.scope[AGENT_SAID_KEY])

    async def _hang_up(self) -> None:
        """The agent ended the call: no phone line, the stream is the call."""
        await self.close()


class SaidRecordingStore:
    """The call's store, plus each agent turn's words appended to `said` when the turn is saved
    (a simulated caller reads them instead of recognising the agent's voice: the offline
    recogniser would take the CPU the agent's own pipeline is measured on)."""

    def __init__(self, store: CallStore, said: list[str]) -> None:
        self._store = store
        self._said = said

    def save_turn(self, *, index: int, role: str, text: str, **fields: Any) -> None:
        self._store.save_turn(index=index, role=role, text=text, **fields)
        if role == Role.AGENT:
            self._said.append(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def eval_scope(recorded_tools: list[ToolCall], agent_said: list[str] | None = None
               ) -> dict[str, Any]:
    return {"type": "websocket", "path": "/eval/stream/", "raw_path": b"/eval/stream/",
            "query_string": b"", "headers": [], "subprotocols": [],
            "client": ("127.0.0.1", 0), "server": ("127.0.0.1", 0),
            TOOL_CALLS_KEY: recorded_tools,
            AGENT_SAID_KEY: agent_said if agent_said is not None else []}


class InProcessSocket:
    """What the simulator's `MediaStreamPeer` needs of a WebSocket client — `send`, iteration
    over the server's messages, `close`, `close_code` — over an ASGI application running in this
    event loop."""

    def __init__(self, application, scope: dict[str, Any]) -> None:
        self._app = ApplicationCommunicator(application, scope)
        self.close_code: int | None = None
        self._closed = False
        self._disconnected = False

    async def open(self) -> None:
        await self._app.send_input({"type": "websocket.connect"})
        answer = await self._app.receive_output(timeout=OPEN_TIMEOUT_S)
        if answer["type"] != "websocket.accept":
            raise ConnectionRefusedError(f"the consumer answered {answer['type']}")

    async def send(self, text: str) -> None:
        if self._closed:
            raise ConnectionClosedOK(None, None)
        await self._app.send_input({"type": "websocket.receive", "text": text})

    def __aiter__(self) -> AsyncIterator[str]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[str]:
        while not self._closed:
            # No timeout: the communicator would cancel the application on one.
            message = await self._app.receive_output(timeout=None)
            if message["type"] == "websocket.send" and message.get("text") is not None:
                yield message["text"]
            elif message["type"] == "websocket.close":
                self.close_code = message.get("code", 1000)
                self._closed = True

    async def close(self) -> None:
        """The client side hangs up (after Twilio's `stop`, as a real socket would)."""
        self._closed = True
        if not self._disconnected:
            self._disconnected = True
            await self._app.send_input({"type": "websocket.disconnect", "code": 1000})

    async def finished(self) -> None:
        """Wait until the consumer has closed the call (its record is written by then): a
        server that closed the socket is told the client has gone, as daphne would."""
        await self.close()
        await self._app.wait(timeout=CLOSE_TIMEOUT_S)
