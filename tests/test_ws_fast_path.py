"""daphne's WebSocket framing through `python -m aybiza.server`, with and without the fast path.

Every case runs against a real server process twice: with `aybiza/server/ws_fast_path.py`
installed and with plain daphne/autobahn. Both must behave the same on the wire: the fast path
only takes the common frame shape and must hand everything else (fragments, binary, control
frames, frames split across reads, protocol violations) to autobahn untouched.
"""

from __future__ import annotations

import base64
import contextlib
import os
import socket
import time
from collections.abc import Iterator

import pytest

from aybiza.server import ws_fast_path
from tests.daphne_server import launched_server

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


@pytest.fixture(scope="module", params=["fast", "plain"])
def server(request) -> Iterator[int]:
    fast_path = "true" if request.param == "fast" else "false"
    with launched_server("tests.ws_echo_app:application",
                         {"AYBIZA_SERVER_FAST_PATH": fast_path}) as port:
        yield port


@pytest.fixture
def fast_path_on(request) -> bool:
    return request.node.callspec.params["server"] == "fast"


def frame(payload: bytes, opcode: int = OP_TEXT, *, fin: bool = True, masked: bool = True,
          length_form: int | None = None) -> bytes:
    """A client frame with a random mask (or none), optionally a non-minimal length form."""
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    if length_form == 126 or (length_form is None and 126 <= size <= 0xFFFF):
        head = bytes((first, (0x80 if masked else 0) | 126)) + size.to_bytes(2, "big")
    elif length_form == 127 or (length_form is None and size > 0xFFFF):
        head = bytes((first, (0x80 if masked else 0) | 127)) + size.to_bytes(8, "big")
    else:
        head = bytes((first, (0x80 if masked else 0) | size))
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + ws_fast_path.unmask(payload, mask)


class Peer:
    """A raw-socket WebSocket client: what goes on the wire is exactly what a test writes."""

    def __init__(self, port: int, path: str = "/echo") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n\r\n".encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        return data

    def send(self, *chunks: bytes, pause_s: float = 0.0) -> None:
        for chunk in chunks:
            self.sock.sendall(chunk)
            if pause_s:
                time.sleep(pause_s)

    def read_frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next server frame; checks it is final and unmasked."""
        while True:
            if len(self.buffer) >= 2:
                first, second = self.buffer[0], self.buffer[1]
                assert first & 0x80 and not second & 0x80, "server frames: final, unmasked"
                size, offset = second & 0x7F, 2
                if size == 126 and len(self.buffer) >= 4:
                    size, offset = int.from_bytes(self.buffer[2:4], "big"), 4
                elif size == 127 and len(self.buffer) >= 10:
                    size, offset = int.from_bytes(self.buffer[2:10], "big"), 10
                if (size < 126 or offset > 2) and len(self.buffer) >= offset + size:
                    payload = self.buffer[offset:offset + size]
                    self.buffer = self.buffer[offset + size:]
                    return first & 0x0F, payload
            self.buffer += self._recv()

    def close_code(self) -> int:
        opcode, payload = self.read_frame()
        while opcode != OP_CLOSE:
            opcode, payload = self.read_frame()
        return int.from_bytes(payload[:2], "big")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@pytest.fixture
def peer(server) -> Iterator[Peer]:
    client = Peer(server)
    yield client
    client.close()


def test_many_small_text_frames_in_one_segment_arrive_in_order(peer):
    messages = [f'{{"event":"media","n":{n},"payload":"{"x" * (n * 37 % 400)}"}}'.encode()
                for n in range(40)]
    peer.send(b"".join(frame(m) for m in messages))
    assert [peer.read_frame() for _ in messages] == [(OP_TEXT, m) for m in messages]


@pytest.mark.parametrize("size", [1, 125, 126, 127, 4000, 65535, 65536, 200_000])
def test_every_length_form_round_trips(peer, size):
    message = ("é" * (size // 2) + "a" * (size % 2)).encode()
    peer.send(frame(message))
    assert peer.read_frame() == (OP_TEXT, message)


def test_a_frame_split_across_reads_and_the_frames_after_it(peer):
    first, second = frame(b"x" * 300), frame(b"after")
    peer.send(first[:3], first[3:150], first[150:] + second, pause_s=0.05)
    assert peer.read_frame() == (OP_TEXT, b"x" * 300)
    assert peer.read_frame() == (OP_TEXT, b"after")


def test_fragmented_binary_ping_and_text_interleave_as_rfc_6455_says(peer):
    peer.send(frame(b"hel", OP_TEXT, fin=False) + frame(b"ping!", OP_PING)
              + frame(b"lo", OP_CONT) + frame(b"\x00\xff", OP_BINARY) + frame(b"tail"))
    assert peer.read_frame() == (OP_PONG, b"ping!")
    assert peer.read_frame() == (OP_TEXT, b"hello")
    assert peer.read_frame() == (OP_BINARY, b"\x00\xff")
    assert peer.read_frame() == (OP_TEXT, b"tail")


def _ends_with(peer: Peer, code: int) -> None:
    """autobahn fails a connection by dropping it (failByDrop) or with a close frame."""
    try:
        received = peer.close_code()
    except ConnectionError:
        return
    assert received == code


def test_invalid_utf8_fails_the_connection_after_the_good_frames(peer):
    peer.send(frame(b"fine"))
    assert peer.read_frame() == (OP_TEXT, b"fine")
    peer.send(frame(b"also fine") + frame(b"\xc3\x28 broken"))
    _ends_with(peer, 1007)


def test_an_unmasked_client_frame_fails_the_connection(peer):
    peer.send(frame(b"fine"))
    assert peer.read_frame() == (OP_TEXT, b"fine")
    peer.send(frame(b"naked", masked=False))
    _ends_with(peer, 1002)


def test_a_non_minimal_length_fails_the_connection(peer):
    peer.send(frame(b"short", length_form=126))
    _ends_with(peer, 1002)


def test_the_application_closing_stops_delivery_and_sends_its_code(peer):
    peer.send(frame(b"please close") + frame(b"never echoed"))
    assert peer.close_code() == 4000


def test_client_close_is_answered(peer):
    peer.send(frame(b"one"))
    assert peer.read_frame() == (OP_TEXT, b"one")
    peer.send(frame((1000).to_bytes(2, "big"), OP_CLOSE))
    assert peer.close_code() == 1000


def test_the_direct_channel_never_lets_a_message_overtake_a_declined_one(server, fast_path_on):
    peer = Peer(server, "/direct")
    try:
        peer.send(frame(b"a") + frame(b"slow:b") + frame(b"c") + frame(b"d"))
        echoes = [peer.read_frame()[1].decode() for _ in range(4)]
        assert [e.split(":", 1)[1] for e in echoes] == ["a", "slow:b", "c", "d"]
        # With the extension, the first goes direct and the rest queue behind the declined one.
        expected = ["direct", "queued", "queued", "queued"] if fast_path_on else ["queued"] * 4
        assert [e.split(":", 1)[0] for e in echoes] == expected
        peer.send(frame(b"e"))  # the queue has drained: direct again
        assert peer.read_frame()[1] == (b"direct:e" if fast_path_on else b"queued:e")
        peer.send(frame(b"\x01", OP_BINARY))  # binary never goes to the receiver
        assert peer.read_frame() == (OP_BINARY, b"\x01")
        peer.send(frame(b"please close") + frame(b"never echoed"))
        assert peer.close_code() == 4000
    finally:
        peer.close()


def test_unmask_fallback_matches_the_c_helper(monkeypatch):
    payload, mask = os.urandom(1001), os.urandom(4)
    expected = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert ws_fast_path.unmask(payload, mask) == expected
    monkeypatch.setattr(ws_fast_path, "apply_mask", None)
    assert ws_fast_path.unmask(payload, mask) == expected
