"""The server stack's own floor: CPU per WebSocket message with no application work at all.

`python -m calls.bench.floor` starts an ASGI server (daphne through `aybiza.server`, with or
without uvloop, or uvicorn for comparison) serving `floor_application`, a WebSocket app that
accepts and then only drains its messages (`idle`), or answers each one with one outbound
Twilio media message (`talking`: what a call costs while the agent speaks). N lean clients
(`calls.bench.wsclient`) send Twilio-sized media messages every 20 ms, and the server's CPU over
a window is divided by the messages it handled. What remains for the application at N calls is
the core minus this floor: the number that bounds calls per core whatever our code does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from base64 import b64encode
from pathlib import Path

import psutil

from calls.bench import wsclient
from calls.bench.cores import pin, pinner
from calls.simulator.net import free_port

BASE_DIR = Path(__file__).resolve().parents[2]
PATH = "/floor"
# A real inbound message: Twilio's JSON around 160 bytes of µ-law (373 bytes).
INBOUND = (
    '{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1",'
    '"timestamp":"20","payload":"' + b64encode(bytes(range(160))).decode() + '"},'
    '"streamSid":"MZ00000000000000000000000000000000"}'
).encode()
OUTBOUND = ('{"event":"media","streamSid":"MZ00000000000000000000000000000000",'
            '"media":{"payload":"' + b64encode(bytes(160)).decode() + '"}}')


async def floor_application(scope: dict, receive, send) -> None:
    """Accept, then drain (or answer each message with one outbound media message)."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] != "websocket":
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    answer = b"answer=1" in scope.get("query_string", b"")
    reply = {"type": "websocket.send", "text": OUTBOUND}
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif kind == "websocket.disconnect":
            return
        elif answer:
            await send(reply)


class _Sink:
    def __init__(self) -> None:
        self.received = 0

    def ws_text(self, payload: bytes, now: float) -> None:
        self.received += 1

    def ws_closed(self, code: int | None) -> None:
        pass






def start_server(server: str, port: int, core: int | None) -> subprocess.Popen:
    app = "calls.bench.floor:floor_application"
    fast_path = server not in ("daphne-plain", "daphne-uvloop")
    env = {**os.environ, "AYBIZA_UVLOOP": "false" if server == "daphne-plain" else "true",
           "AYBIZA_SERVER_FAST_PATH": "true" if fast_path else "false"}
    if server.startswith("daphne"):
        argv = [sys.executable, "-m", "aybiza.server", "-b", "127.0.0.1", "-p", str(port), app]
    elif server == "uvicorn":
        argv = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
                "--log-level", "warning", "--no-access-log", "--ws", "websockets-sansio"]
    else:
        raise ValueError(f"unknown server {server!r}")
    process = subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL,
                               preexec_fn=pinner(core) if core is not None else None)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{server} did not listen on {port}")


async def drive(port: int, calls: int, mode: str, seconds: float) -> dict:
    """Connect `calls` clients and send one message per client every 20 ms for `seconds`."""
    sink = _Sink()
    path = PATH + ("?answer=1" if mode == "talking" else "")
    clients = [await wsclient.connect(sink, address=("127.0.0.1", port), host="127.0.0.1",
                                      path=path, headers={}) for _ in range(calls)]
    frame = wsclient.encode_frame(INBOUND)
    loop = asyncio.get_running_loop()
    slots = [clients[i::4] for i in range(4)]  # four 5 ms phases, as real streams are not aligned
    sent = 0
    start = loop.time()
    tick = 0
    while (now := loop.time()) - start < seconds:
        for client in slots[tick % 4]:
            client._write(frame)
        sent += len(slots[tick % 4])
        tick += 1
        await asyncio.sleep(max(0.0, start + tick * 0.005 - loop.time()))
    for client in clients:
        client.close()
    await asyncio.sleep(0.5)
    return {"sent": sent, "received": sink.received, "elapsed_s": now - start}


def measure(server: str, calls: int, mode: str, seconds: float, server_core: int | None,
            generator_core: int | None) -> dict:
    port = free_port()
    process = start_server(server, port, server_core)
    try:
        if generator_core is not None:
            pin(0, generator_core)
        proc = psutil.Process(process.pid)
        asyncio.run(drive(port, calls, mode, 1.0))  # warm-up
        before = proc.cpu_times()
        result = asyncio.run(drive(port, calls, mode, seconds))
        after = proc.cpu_times()
    finally:
        process.terminate()
        process.wait(timeout=10)
    cpu_s = (after.user - before.user) + (after.system - before.system)
    messages = result["sent"] + result["received"]
    return {
        "server": server, "calls": calls, "mode": mode,
        "cpu_pct": round(100 * cpu_s / result["elapsed_s"], 1),
        "system_pct": round(100 * (after.system - before.system) / result["elapsed_s"], 1),
        "us_per_message": round(1e6 * cpu_s / max(1, messages), 1),
        "inbound": result["sent"], "outbound": result["received"],
        # Calls one core could carry at 100 % with nothing but the server stack:
        "ceiling_calls": round(calls * result["elapsed_s"] / cpu_s) if cpu_s else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", default="daphne,daphne-uvloop,daphne-plain,uvicorn")
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--generator-core", type=int, default=1)
    args = parser.parse_args()
    rows = [measure(server, args.calls, mode, args.seconds, args.server_core, args.generator_core)
            for server in args.servers.split(",") for mode in ("idle", "talking")]
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
