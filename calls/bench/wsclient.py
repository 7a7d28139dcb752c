"""A lean client WebSocket (RFC 6455) for the load generator: one asyncio Protocol per call.

Hundreds of calls send 50 frames a second each, so the generator cannot afford a general client
(random masking in Python, a task and a queue per connection). This one writes each text message
as header + zero masking key + payload in one `transport.write`, parses the server's unmasked
frames straight out of `data_received`, answers pings, and hands text payloads (bytes, unparsed)
to its handler. A zero masking key is valid framing (the key's randomness only protects
intermediaries, of which there are none on loopback); the server still unmasks every frame.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
from typing import Protocol

_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
ZERO_MASK = b"\x00\x00\x00\x00"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
MAX_HANDSHAKE_BYTES = 16 * 1024


class Handler(Protocol):
    def ws_text(self, payload: bytes, now: float) -> None: ...
    def ws_closed(self, code: int | None) -> None: ...


class HandshakeError(ConnectionError):
    """The server refused the upgrade (e.g. HTTP 403 for a bad signature)."""


def encode_frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """One final, masked client frame (zero key: the payload goes out as is)."""
    length = len(payload)
    if length < 126:
        header = bytes((0x80 | opcode, 0x80 | length))
    elif length < 65536:
        header = bytes((0x80 | opcode, 0xFE)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0xFF)) + length.to_bytes(8, "big")
    return header + ZERO_MASK + payload


def decode_frames(buffer: bytearray) -> list[tuple[bool, int, bytes]]:
    """Cut the complete server frames (unmasked) off the front of `buffer`.

    Returns (fin, opcode, payload) for each; a partial frame stays in the buffer.
    """
    frames: list[tuple[bool, int, bytes]] = []
    offset = 0
    end = len(buffer)
    while end - offset >= 2:
        first, second = buffer[offset], buffer[offset + 1]
        length = second & 0x7F
        header = 2
        if length == 126:
            if end - offset < 4:
                break
            length = int.from_bytes(buffer[offset + 2:offset + 4], "big")
            header = 4
        elif length == 127:
            if end - offset < 10:
                break
            length = int.from_bytes(buffer[offset + 2:offset + 10], "big")
            header = 10
        masked = second & 0x80
        mask = b""
        if masked:  # servers must not mask, but tolerate it
            if end - offset < header + 4:
                break
            mask = bytes(buffer[offset + header:offset + header + 4])
            header += 4
        if end - offset < header + length:
            break
        payload = bytes(buffer[offset + header:offset + header + length])
        if masked:
            payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        frames.append((bool(first & 0x80), first & 0x0F, payload))
        offset += header + length
    if offset:
        del buffer[:offset]
    return frames


def handshake_request(*, host: str, path: str, key: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def expected_accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + _ACCEPT_GUID).digest()).decode()


class WebSocketClient(asyncio.Protocol):
    """One connection. `opened` resolves after the 101; then `send_text` and the handler."""

    def __init__(self, handler: Handler, *, host: str, path: str,
                 headers: dict[str, str]) -> None:
        self.handler = handler
        self._key = base64.b64encode(os.urandom(16)).decode()
        self._request = handshake_request(host=host, path=path, key=self._key, headers=headers)
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._upgraded = False
        self.transport: asyncio.Transport | None = None
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.closed = False
        self.close_sent = False

    # --- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()  # one clock read per socket read: frames in it arrived together
        self._buffer += data
        if not self._upgraded and not self._finish_handshake():
            return
        for fin, opcode, payload in decode_frames(self._buffer):
            if opcode in (OP_TEXT, OP_BINARY, OP_CONTINUATION):
                if not fin:
                    self._fragments.append(payload)
                    continue
                if self._fragments:
                    payload = b"".join((*self._fragments, payload))
                    self._fragments.clear()
                self.handler.ws_text(payload, now)
            elif opcode == OP_PING:
                self._write(encode_frame(payload, OP_PONG))
            elif opcode == OP_CLOSE:
                self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                if not self.close_sent:
                    self._write(encode_frame(payload[:2], OP_CLOSE))
                    self.close_sent = True
                if self.transport is not None:
                    self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(exc or HandshakeError("connection closed during handshake"))
        self.handler.ws_closed(self.close_code)

    # --- sending -------------------------------------------------------------------------------
    def send_text(self, payload: bytes) -> None:
        self._write(encode_frame(payload))

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake; the server answers and closes the TCP connection."""
        if not self.close_sent and not self.closed:
            self.close_sent = True
            self._write(encode_frame(code.to_bytes(2, "big"), OP_CLOSE))

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    @property
    def write_buffer_size(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.closed and not self.transport.is_closing():
            self.transport.write(data)

    def _finish_handshake(self) -> bool:
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HANDSHAKE_BYTES:
                self._fail("handshake response too long")
            return False
        head = bytes(self._buffer[:end]).decode("latin-1")
        del self._buffer[:end + 4]
        status_line, *header_lines = head.split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or parts[1] != "101":
            self._fail(f"upgrade refused: {status_line}")
            return False
        if headers.get("sec-websocket-accept") != expected_accept(self._key):
            self._fail("bad Sec-WebSocket-Accept")
            return False
        self._upgraded = True
        self.opened.set_result(None)
        return True

    def _fail(self, reason: str) -> None:
        if not self.opened.done():
            self.opened.set_exception(HandshakeError(reason))
        if self.transport is not None:
            self.transport.abort()


async def connect(handler: Handler, *, address: tuple[str, int], host: str, path: str,
                  headers: dict[str, str], timeout_s: float = 10.0) -> WebSocketClient:
    """Open a TCP connection to `address` and upgrade it, presenting `host` and `headers`."""
    loop = asyncio.get_running_loop()
    _, client = await loop.create_connection(
        lambda: WebSocketClient(handler, host=host, path=path, headers=headers), *address)
    try:
        await asyncio.wait_for(asyncio.shield(client.opened), timeout_s)
    except BaseException:
        client.abort()
        raise
    return client
