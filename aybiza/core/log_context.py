"""Which call a log line belongs to, on every line written while handling it.

The media consumer binds the call (tenant, call sid) when its stream starts; the session keeps
the current turn index up to date. `CallContextFilter` copies them onto each record (the console
handler has it), so a JSON line (`LOG_FORMAT=json`, the production default) carries
`tenant_id`, `call_sid` and `turn`, and a plain line ends with `[tenant=… call=… turn=…]`.

Context variables follow the call's own task and the tasks and threads it starts; frames the
server hands over directly (the fast path) are fed inside the call's context too. Lines from
process-wide work (the pacer's shared tick, Celery tasks) carry no call.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

call_log_context: ContextVar[dict[str, Any] | None] = ContextVar("aybiza_call_log_context",
                                                                 default=None)


def bind_call(*, tenant_id: int, call_sid: str) -> dict[str, Any]:
    """Mark the current context (a call's consumer task) as that call's; returns the mutable
    context, whose "turn" the session updates."""
    context = {"tenant_id": tenant_id, "call_sid": call_sid, "turn": None}
    call_log_context.set(context)
    return context


class CallContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = call_log_context.get()
        record.tenant_id = context["tenant_id"] if context else None
        record.call_sid = context["call_sid"] if context else None
        record.turn = context["turn"] if context else None
        record.call = (f" [tenant={context['tenant_id']} call={context['call_sid']} "
                       f"turn={context['turn'] if context['turn'] is not None else '-'}]"
                       if context else "")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, the call's ids and, for
    errors, the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage(),
        }
        for name in ("tenant_id", "call_sid", "turn"):
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)
