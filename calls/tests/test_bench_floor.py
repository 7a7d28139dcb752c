"""The server-floor app and the report lines it feeds (no server process, no clock)."""

from __future__ import annotations

import asyncio

from calls.bench import report
from calls.bench.floor import OUTBOUND, floor_application


def _run_app(query: bytes, inbound: int) -> list[dict]:
    async def scenario() -> list[dict]:
        queue: asyncio.Queue[dict] = asyncio.Queue()
        sent: list[dict] = []
        for message in ([{"type": "websocket.connect"}]
                        + [{"type": "websocket.receive", "text": "{}"}] * inbound
                        + [{"type": "websocket.disconnect", "code": 1000}]):
            queue.put_nowait(message)

        async def send(message: dict) -> None:
            sent.append(message)

        await floor_application({"type": "websocket", "query_string": query}, queue.get, send)
        return sent

    return asyncio.run(scenario())


def test_idle_floor_app_accepts_and_only_drains():
    assert _run_app(b"", 5) == [{"type": "websocket.accept"}]


def test_talking_floor_app_answers_every_message_with_one_media_message():
    sent = _run_app(b"answer=1", 3)
    assert sent[0] == {"type": "websocket.accept"}
    assert sent[1:] == [{"type": "websocket.send", "text": OUTBOUND}] * 3


def test_floor_table_has_one_row_per_server_with_both_modes():
    rows = [
        {"server": "daphne", "calls": 100, "mode": "idle", "cpu_pct": 60.0,
         "us_per_message": 120.0, "ceiling_calls": 167},
        {"server": "daphne", "calls": 100, "mode": "talking", "cpu_pct": 95.0,
         "us_per_message": 95.0, "ceiling_calls": 105},
        {"server": "uvicorn", "calls": 100, "mode": "idle", "cpu_pct": 28.0,
         "us_per_message": 56.0, "ceiling_calls": 357},
    ]
    lines = report.floor_table(rows)
    assert len(lines) == 4
    assert lines[2].startswith("| daphne + uvloop + WebSocket fast path")
    assert lines[2].endswith("| 100 | 60.0 | 120.0 | 95.0 | 95.0 | 105 |")
    assert lines[3].startswith("| uvicorn") and lines[3].endswith("| – | – | – |")


def test_turn_overhead_target_also_reports_the_servers_clock():
    step = {"calls": 200, "server_turn_overhead_ms": {"p95": 7.5}}
    assert report._server_overhead(step, None) == "; by the server's clock p95 7.5 ms at 200 calls"
    assert report._server_overhead({"calls": 200}, None) == ""
