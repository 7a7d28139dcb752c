"""Browser test calls: a portal member talks to an agent from the microphone.

The WebSocket `ws/portal/agents/<id>/talk/` is authenticated by the portal session (cookie +
Origin check), not by Twilio's signature: the member must be able to edit the agent's tenant. The
call is created when the socket opens, runs the agent's draft, and goes through the same
consumer code and `CallSession` as a phone call (`MediaStreamConsumer`); the page speaks the
media-stream subset of Twilio's protocol (`calls/realtime/serializers/browser.py`). Each saved turn
is also sent to the page, for the live transcript with latencies.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from channels.db import database_sync_to_async

from agents.selectors import agent_get
from aybiza.core.errors import NotFound
from aybiza.core.models import WRITE_ROLES
from aybiza.core.selectors import membership_for_user
from aybiza.core.tenancy import SESSION_TENANT_KEY
from calls.consumers import MediaStreamConsumer
from calls.realtime.loader import LoadedStream, StreamRejected, load_stream
from calls.realtime.persistence import CallStore
from calls.realtime.serializers.browser import transcript_message
from calls.services import call_start_browser
from calls.twilio import StreamToken

logger = logging.getLogger(__name__)
BROWSER_STREAM_PREFIX = "BS"


class BrowserCallRefused(Exception):
    """Not signed in, not a member who may edit, or not this tenant's agent."""


def browser_call_open(*, user, tenant_slug: str | None, agent_id: int) -> LoadedStream:
    """Create the member's test call of the agent and load its session (sync: run in a thread)."""
    if user is None or not user.is_authenticated:
        raise BrowserCallRefused("not signed in")
    membership = membership_for_user(user=user, slug=tenant_slug)
    if membership is None and tenant_slug:  # the chosen tenant is gone: their first, as pages do
        membership = membership_for_user(user=user)
    if membership is None or membership.role not in WRITE_ROLES:
        raise BrowserCallRefused("no membership that may edit agents")
    try:
        agent = agent_get(tenant=membership.tenant, pk=agent_id)
    except NotFound as exc:
        raise BrowserCallRefused("no such agent in this tenant") from exc
    call = call_start_browser(tenant=membership.tenant, agent=agent, actor=user)
    try:
        return load_stream(token=StreamToken(call_id=call.id, tenant_id=call.tenant_id),
                           call_sid=call.call_sid,
                           stream_sid=BROWSER_STREAM_PREFIX + uuid.uuid4().hex)
    except StreamRejected as exc:  # e.g. the agent was deleted meanwhile
        raise BrowserCallRefused(str(exc)) from exc


class LiveTranscriptStore:
    """The call's store, plus each saved turn sent to the page as it happens."""

    def __init__(self, store: CallStore, send) -> None:
        self._store = store
        self._send = send

    def save_turn(self, *, index: int, role: str, text: str, **fields: Any) -> None:
        self._store.save_turn(index=index, role=role, text=text, **fields)
        try:
            self._send(transcript_message(index=index, role=role, text=text, **fields))
        except Exception:  # the page went away: the call's record is what matters
            logger.debug("Live transcript not delivered", exc_info=True)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class BrowserCallConsumer(MediaStreamConsumer):
    async def connect(self) -> None:
        self._init_stream_state()
        session = self.scope.get("session")
        try:
            loaded = await database_sync_to_async(self._open)(
                user=self.scope.get("user"),
                tenant_slug=session.get(SESSION_TENANT_KEY) if session is not None else None,
                agent_id=self.scope["url_route"]["kwargs"]["agent_id"])
        except BrowserCallRefused as exc:
            logger.info("Browser test call refused: %s", exc)
            await self.close()  # before accept(): the handshake is refused (HTTP 403)
            return
        await self.accept()
        await self._run_session(loaded, call_sid=loaded.call.call_sid,
                                stream_sid=loaded.call.stream_sid)

    @staticmethod
    def _open(**kwargs) -> LoadedStream:
        return browser_call_open(**kwargs)

    def _store_for(self, loaded: LoadedStream) -> LiveTranscriptStore:
        return LiveTranscriptStore(CallStore(loaded.call), self.outbox.send)

    async def _hang_up(self) -> None:
        """The agent ended the call: there is no phone line, the socket is the call."""
        await self.close()
