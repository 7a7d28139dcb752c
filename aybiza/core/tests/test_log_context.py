"""Log lines name the call they were written for: its tenant, sid and turn, in plain and JSON."""

from __future__ import annotations

import asyncio
import json
import logging

from django.conf import settings

from aybiza.core.log_context import CallContextFilter, JsonFormatter, bind_call


class LineCollector(logging.Handler):
    """The console handler's filter and a formatter, keeping each formatted line."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.addFilter(CallContextFilter())
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def collector(formatter: logging.Formatter) -> tuple[logging.Logger, list[str]]:
    handler = LineCollector(formatter)
    lines = handler.lines
    logger = logging.getLogger("aybiza.test.log_context")
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, lines


def test_lines_inside_a_call_carry_it_and_others_do_not():
    logger, lines = collector(JsonFormatter())

    async def a_call() -> None:
        context = bind_call(tenant_id=7, call_sid="CA123")
        context["turn"] = 2
        logger.info("answered")
        await asyncio.create_task(asyncio.to_thread(logger.info, "in a thread it started"))

    async def elsewhere() -> None:
        logger.info("process-wide work")

    async def both() -> None:
        await asyncio.gather(asyncio.create_task(a_call()), asyncio.create_task(elsewhere()))

    asyncio.run(both())
    parsed = {line["message"]: line for line in map(json.loads, lines)}
    assert {k: parsed["answered"][k] for k in ("tenant_id", "call_sid", "turn")} == {
        "tenant_id": 7, "call_sid": "CA123", "turn": 2}
    assert parsed["in a thread it started"]["call_sid"] == "CA123"
    assert "call_sid" not in parsed["process-wide work"]


def test_the_plain_format_ends_with_the_call():
    plain = logging.Formatter(settings.LOGGING["formatters"]["plain"]["format"])
    logger, lines = collector(plain)

    async def a_call() -> None:
        bind_call(tenant_id=3, call_sid="CA9")
        logger.warning("slow answer")

    asyncio.run(a_call())
    logger.warning("no call here")
    assert lines[0].endswith("slow answer [tenant=3 call=CA9 turn=-]")
    assert lines[1].endswith("no call here")


def test_an_error_line_is_one_json_object_with_its_traceback():
    logger, lines = collector(JsonFormatter())
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("turn failed")
    line = json.loads(lines[0])
    assert line["level"] == "ERROR" and "ValueError: boom" in line["exc"]
    assert "\n" not in lines[0]
