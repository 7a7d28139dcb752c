"""The live dashboard's socket: a signed-in member's page joins its tenant's event group
(`aybiza.core.events`) and is told when something happened; the page then re-reads the numbers.
Events carry ids and a few fields only (never transcript text or numbers)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from aybiza.core.events import tenant_group
from aybiza.core.selectors import membership_for_user
from aybiza.core.tenancy import SESSION_TENANT_KEY


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        tenant_id = await database_sync_to_async(self._tenant_id)()
        if tenant_id is None:
            await self.close()  # before accept(): the handshake is refused (HTTP 403)
            return
        self.group = tenant_group(tenant_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    def _tenant_id(self) -> int | None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return None
        session = self.scope.get("session")
        slug = session.get(SESSION_TENANT_KEY) if session is not None else None
        membership = membership_for_user(user=user, slug=slug)
        if membership is None and slug:
            membership = membership_for_user(user=user)
        return membership.tenant_id if membership else None

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        pass  # the page only listens

    async def event_message(self, message: dict) -> None:
        await self.send_json({"event": message["event"], "payload": message["payload"],
                              "at": message["at"]})
