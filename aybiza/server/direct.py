"""The `aybiza.websocket.direct` ASGI extension, as an application sees it.

No server library is imported here: the call engine (`calls/realtime/outbox.py`) and the
consumer look the extension up in the connection scope and work the same without it (any other
ASGI server, the Channels test communicator, or the fast path switched off). The server side is
`aybiza/server/ws_fast_path.py` (`DirectChannel`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

DIRECT_EXTENSION = "aybiza.websocket.direct"


class DirectSocket(Protocol):
    def send_text(self, text: str) -> None: ...

    def set_receiver(self, receiver: Callable[[str], bool] | None) -> None: ...


def direct_socket(scope: dict) -> DirectSocket | None:
    """The server's direct channel to this WebSocket, when it offers one."""
    return (scope.get("extensions") or {}).get(DIRECT_EXTENSION)
