"""A fast path in daphne's WebSocket protocol for the one frame shape a phone call is made of.

A live call is 50 small text messages a second in each direction (Twilio media JSON, ~370 bytes
in, ~250 out). Daphne frames them with autobahn, whose general RFC 6455 state machine costs
about 100 µs of Python per message on our benchmark machine: the bare server stack, with an ASGI
app that does nothing, saturates a core at about 100 talking calls (`calls.bench.floor`,
docs/performance.md). This subclass of daphne's protocol handles the common case directly and
hands everything else to autobahn unchanged:

- inbound: complete, final, masked, uncompressed text frames of at most 65535 bytes that arrive
  while autobahn is between frames (nothing buffered, no fragmented message open). They are
  unmasked in C, checked as UTF-8 by the decode daphne does anyway, and delivered through
  daphne's own `onMessage`. The first frame of any other kind (binary, fragmented, control,
  unmasked, oversized, invalid UTF-8, split across reads) and every byte after it go to
  autobahn, which validates and answers it exactly as before (close codes included).
- outbound: `sendMessage` of a message under 64 KiB, when nothing is queued in autobahn's own
  send queue and no extension, fragmentation or logging is configured, builds the 2- or 4-byte
  header itself (server frames are never masked) and sends header and payload with one `send`
  when Twisted has nothing buffered for the socket (else it queues behind what is buffered).

The protocol also offers applications a synchronous channel to the socket, as the ASGI
extension `aybiza.websocket.direct` in the connection scope (`DirectChannel`): `send_text` frames
and writes a message at once, and a receiver set with `set_receiver` is called with each inbound
text message instead of queueing it for `receive()`. Through ASGI, every inbound message is a
dict put on an `asyncio.Queue` that wakes the application's task, and every outbound one awaits
two coroutines in daphne: at 50 messages a second each way per call, that plumbing cost more
than the call's own audio work. Order is kept: the receiver only sees a message when nothing is
waiting in the application's queue, and a message it declines (returns False) is queued, so the
messages after it queue behind it until the application has taken them all.

Installed by `python -m aybiza.server` (set `AYBIZA_SERVER_FAST_PATH=false` to turn it off).

Upstream code this depends on (versions pinned in requirements/base.txt; `upstream_problems()`
checks each before the launcher installs anything):

- daphne 4.2.3 `daphne/ws_protocol.py`: `WebSocketProtocol.onMessage` (decodes, sets
  `last_ping`, puts the message on `application_queue` unless `muted`), `onClose`, and
  `WebSocketFactory.protocol`, the class the factory builds per connection (replaced here).
- autobahn 26.11.1 `autobahn/websocket/protocol.py`: `WebSocketProtocol` and its per-connection
  state, read to decide that it is between frames (`data`, `current_frame`, `inside_message`,
  `send_state`, `send_queue`, `_perMessageCompress`, `trafficStats`, `STATE_OPEN`,
  `SEND_STATE_GROUND`) and its options (`CONFIG_ATTRS_COMMON`/`_SERVER`); `sendMessage(payload,
  isBinary, fragmentSize, sync, doNotCompress)`; `autobahn/twisted/websocket.py`
  `dataReceived`.
- Twisted 26.10.0 `twisted/internet/abstract.py` `FileDescriptor` (`dataBuffer`,
  `_tempDataBuffer`, `_writeDisconnected`, `writeSomeData`) and `twisted/internet/tcp.py`
  `Connection.TLS`, for writing a frame through at once (`_write_through`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from autobahn.websocket.protocol import WebSocketProtocol as _Autobahn
from daphne.ws_protocol import WebSocketProtocol

from aybiza.server.direct import DIRECT_EXTENSION
from aybiza.server.shapes import missing_attributes, signature_differs, source_lacks

try:  # websockets' C helper (a dependency of the Deepgram provider and of uvicorn)
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - exercised by test with the fallback forced
    apply_mask = None

_OPEN = _Autobahn.STATE_OPEN
_SEND_GROUND = _Autobahn.SEND_STATE_GROUND
_FIN_TEXT = 0x81
_MASKED = 0x80
_MAX_SHORT = 125
_MAX_MEDIUM = 0xFFFF

# autobahn's per-connection state and options this module reads (see the module docstring).
_AUTOBAHN_STATE = ("data", "current_frame", "inside_message", "send_state", "send_queue",
                   "_perMessageCompress", "trafficStats", "trackedTimings", "state")
_AUTOBAHN_OPTIONS = ("logOctets", "logFrames", "maskServerFrames", "autoFragmentSize",
                     "maxFramePayloadSize", "maxMessagePayloadSize")


def unmask(payload: bytes, mask: bytes) -> bytes:
    """XOR `payload` with the repeating 4-byte `mask` (RFC 6455 §5.3)."""
    if apply_mask is not None:
        return apply_mask(payload, mask)
    size = len(payload)
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")).to_bytes(
        size, "little")


class DirectChannel:
    """Synchronous access to one WebSocket connection (the `aybiza.websocket.direct` extension).

    For an application that already runs in the server's event loop: no queue, no task wake-up,
    no coroutine per message. Everything the channel does not take still goes through ASGI.
    """

    __slots__ = ("_protocol",)

    def __init__(self, protocol: FastPathWebSocketProtocol) -> None:
        self._protocol = protocol

    def send_text(self, text: str) -> None:
        """Send one text message now. Dropped once the connection is closing or closed, as
        daphne drops replies to a connection that has gone."""
        protocol = self._protocol
        if protocol.state == _OPEN and not protocol.muted:
            protocol.sendMessage(text.encode(), False)

    def set_receiver(self, receiver: Callable[[str], bool] | None) -> None:
        """Call `receiver(text)` for inbound text messages while the application's queue is
        empty; it returns False for a message it leaves to `receive()` (None: stop)."""
        self._protocol.direct_receiver = receiver


class FastPathWebSocketProtocol(WebSocketProtocol):
    """daphne's WebSocket protocol with a direct path for small single-frame messages."""

    direct_receiver: Callable[[str], bool] | None = None

    def dataReceived(self, data: bytes) -> None:
        if (self.state == _OPEN and not self.data and self.current_frame is None
                and not self.inside_message and self._perMessageCompress is None
                and not self.logOctets and not self.logFrames and not self.trackedTimings):
            data = self._take_simple_frames(data)
            if not data:
                return
        super().dataReceived(data)

    def _take_simple_frames(self, data: bytes) -> bytes:
        """Deliver the complete simple text frames at the front of `data`; return the rest."""
        offset, end = 0, len(data)
        max_frame, max_message = self.maxFramePayloadSize, self.maxMessagePayloadSize
        stats = self.trafficStats
        while end - offset >= 6 and self.state == _OPEN:
            if data[offset] != _FIN_TEXT:
                break
            second = data[offset + 1]
            if not second & _MASKED:
                break  # autobahn fails the connection: clients must mask
            size = second & 0x7F
            if size <= _MAX_SHORT:
                header = 6
            elif size == 126 and end - offset >= 8:
                size = (data[offset + 2] << 8) | data[offset + 3]
                if size <= _MAX_SHORT:
                    break  # non-minimal length encoding: a protocol violation for autobahn
                header = 8
            else:
                break
            if 0 < max_frame < size or 0 < max_message < size:
                break
            stop = offset + header + size
            if stop > end:
                break  # split across reads: autobahn buffers it
            payload = unmask(data[offset + header:stop], data[offset + header - 4:offset + header])
            try:
                self.onMessage(payload, False)  # daphne's: decodes UTF-8, queues for the app
            except UnicodeDecodeError:
                break  # autobahn closes with 1007
            stats.incomingOctetsWireLevel += stop - offset
            stats.incomingWebSocketMessages += 1
            offset = stop
        return data[offset:] if offset else data

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        receiver = self.direct_receiver
        if receiver is None or isBinary or self.muted or not self.application_queue.empty():
            super().onMessage(payload, isBinary)
            return
        text = payload.decode("utf8")  # as daphne's: invalid UTF-8 raises here, before the app
        self.last_ping = time.time()  # daphne's keep-alive pings only idle connections
        if not receiver(text):
            self.application_queue.put_nowait({"type": "websocket.receive", "text": text})

    def onClose(self, wasClean, code, reason) -> None:
        self.direct_receiver = None
        super().onClose(wasClean, code, reason)

    def sendMessage(self, payload, isBinary=False, fragmentSize=None, sync=False,
                    doNotCompress=False):
        size = len(payload)
        if (self.state != _OPEN or size > _MAX_MEDIUM or fragmentSize is not None or sync
                or self.send_state != _SEND_GROUND or self.send_queue
                or self._perMessageCompress is not None or self.autoFragmentSize
                or self.maskServerFrames or self.logFrames or self.logOctets
                or self.trackedTimings or 0 < self.maxMessagePayloadSize < size
                or type(payload) is not bytes):
            return super().sendMessage(payload, isBinary, fragmentSize, sync, doNotCompress)
        first = 0x82 if isBinary else _FIN_TEXT
        if size <= _MAX_SHORT:
            header = bytes((first, size))
        else:
            header = bytes((first, 126, size >> 8, size & 0xFF))
        self._write_through(header + payload)
        stats = self.trafficStats
        stats.outgoingWebSocketMessages += 1
        stats.outgoingWebSocketFrames += 1
        stats.outgoingOctetsWireLevel += len(header) + size
        return None

    def _write_through(self, data: bytes) -> None:
        """Send now when Twisted has nothing buffered for this socket; else queue behind it.

        Twisted's `write` always buffers and sends on the next reactor turn, registering and
        unregistering the socket for writability around it: for one small frame that costs more
        than the frame. Plain TCP only (TLS goes through its own layer), and only with empty
        buffers, so bytes never overtake earlier ones; what the kernel does not take is queued.
        """
        transport = self.transport
        if (getattr(transport, "TLS", True) is False and transport.connected
                and not transport.disconnecting and not transport._writeDisconnected
                and not transport.dataBuffer and not transport._tempDataBuffer):
            sent = transport.writeSomeData(data)
            if sent == len(data):
                return
            if isinstance(sent, int):
                data = data[sent:]
            # else the connection is lost: Twisted's own write path notices and reports it
        transport.write(data)


def upstream_problems() -> list[str]:
    """What no longer matches in daphne, autobahn and Twisted (empty: install is safe)."""
    from autobahn.twisted.websocket import WebSocketServerProtocol
    from daphne import ws_protocol
    from twisted.internet import abstract, tcp

    problems = [
        *missing_attributes(_Autobahn, "STATE_OPEN", "SEND_STATE_GROUND", "CONFIG_ATTRS_COMMON",
                            "CONFIG_ATTRS_SERVER"),
        *signature_differs(_Autobahn.sendMessage, "self", "payload", "isBinary",
                           "fragmentSize", "sync", "doNotCompress"),
        *signature_differs(WebSocketServerProtocol.dataReceived, "self", "data"),
        *source_lacks(_Autobahn, *(f"self.{name}" for name in _AUTOBAHN_STATE)),
        *signature_differs(WebSocketProtocol.onMessage, "self", "payload", "isBinary",
                           label="daphne WebSocketProtocol.onMessage"),
        *signature_differs(WebSocketProtocol.onClose, "self", "wasClean", "code", "reason",
                           label="daphne WebSocketProtocol.onClose"),
        *source_lacks(WebSocketProtocol.onMessage, "if self.muted:", "self.last_ping = time.time()",
                      'self.application_queue.put_nowait({"type": "websocket.receive", '
                      '"text": payload.decode("utf8")})',
                      label="daphne WebSocketProtocol.onMessage"),
        *missing_attributes(abstract.FileDescriptor, "_writeDisconnected", "writeSomeData"),
        *source_lacks(abstract.FileDescriptor, "self.dataBuffer", "self._tempDataBuffer"),
        *missing_attributes(tcp.Connection, "TLS"),
    ]
    if not problems:
        options = set(_Autobahn.CONFIG_ATTRS_COMMON) | set(_Autobahn.CONFIG_ATTRS_SERVER)
        problems += [f"autobahn has no option {name}" for name in _AUTOBAHN_OPTIONS
                     if name not in options]
        if _Autobahn.STATE_OPEN != 3 or _Autobahn.SEND_STATE_GROUND != 0:
            problems.append("autobahn renumbered its connection states")
        if ws_protocol.WebSocketFactory.protocol not in (WebSocketProtocol,
                                                        FastPathWebSocketProtocol):
            problems.append("daphne's WebSocketFactory builds another protocol class")
    return problems


def install() -> None:
    """Make daphne build this protocol for every WebSocket connection."""
    from daphne import ws_protocol

    ws_protocol.WebSocketFactory.protocol = FastPathWebSocketProtocol


def add_direct_extension(protocol: object, scope: dict) -> None:
    """Offer the application a `DirectChannel` when the connection is one of ours (called by
    the server as it creates the application instance)."""
    if isinstance(protocol, FastPathWebSocketProtocol):
        scope["extensions"] = {**(scope.get("extensions") or {}),
                               DIRECT_EXTENSION: DirectChannel(protocol)}
