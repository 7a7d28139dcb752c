"""OpenTelemetry traces of calls: call → turn → stt / llm / tts / send, and tool runs (in the
worker that ran them, under the call's trace), exported over OTLP.

Off unless `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the standard OpenTelemetry variables configure
the exporter: headers, protocol, service name). Off, it costs one check per turn: nothing runs
per 20 ms frame either way. A turn's spans are written when the turn ends, from the times the
session already keeps (when the caller stopped, the final transcript, the first token, the first
audio, the first frame sent), so tracing never touches the media path.

Trace context crosses into Celery tool tasks as a `traceparent` message header, and into HTTP
tool requests as the W3C `traceparent` header.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME = "aybiza"

_tracer = None  # an opentelemetry Tracer when tracing is on
_provider = None


def enabled() -> bool:
    return _tracer is not None


def configure() -> None:
    """Turn tracing on when an OTLP endpoint is configured (called as the apps load)."""
    if _tracer is not None or not os.environ.get(ENDPOINT_ENV):
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    install(BatchSpanProcessor(OTLPSpanExporter()))


def install(processor) -> None:
    """Trace through `processor` (an OTLP batch processor; tests give an in-memory one)."""
    global _tracer, _provider
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    service = os.environ.get("OTEL_SERVICE_NAME", SERVICE_NAME)
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(processor)
    _provider, _tracer = provider, provider.get_tracer("aybiza")


def uninstall() -> None:
    global _tracer, _provider
    _tracer = _provider = None


def flush(timeout_ms: int = 5000) -> bool:
    """Export the spans still batched (at shutdown; in tests)."""
    return _provider.force_flush(timeout_ms) if _provider is not None else True


def monotonic_to_ns(t: float, *, now_mono: float | None = None,
                    now_ns: int | None = None) -> int:
    """A time.monotonic() reading as epoch nanoseconds (spans are stamped in wall time)."""
    now_mono = time.monotonic() if now_mono is None else now_mono
    now_ns = time.time_ns() if now_ns is None else now_ns
    return now_ns - int((now_mono - t) * 1e9)


def start_call_span(*, tenant_id: int, call_sid: str, agent_id: int | None,
                    direction: str) -> Any:
    """The span of a whole call (ended by `end_span`); None when tracing is off."""
    if _tracer is None:
        return None
    return _tracer.start_span("call", attributes={
        "aybiza.tenant_id": tenant_id, "aybiza.call_sid": call_sid,
        "aybiza.agent_id": agent_id or 0, "aybiza.call_direction": direction})


def end_span(span: Any, **attributes: Any) -> None:
    if span is None:
        return
    for name, value in attributes.items():
        if value is not None:
            span.set_attribute(f"aybiza.{name}", value)
    span.end()


def record_turn(call_span: Any, *, index: int, kind: str, interrupted: bool,
                times: dict[str, float | None], end_t: float, usage: dict[str, Any],
                clock: float | None = None) -> None:
    """Write one agent turn's spans from its `times` (readings of the session's monotonic
    `clock`, whose current value is given, default time.monotonic()): caller_end, stt_final,
    first_token, first_audio, first_frame (any may be None). Stages are consecutive: stt
    (caller stopped → final transcript), llm (→ first token), tts (→ first audio), send
    (→ first frame on the line)."""
    if _tracer is None or call_span is None:
        return
    from opentelemetry import trace

    now_mono = time.monotonic() if clock is None else clock
    now_ns = time.time_ns()

    def ns(t: float) -> int:
        return monotonic_to_ns(t, now_mono=now_mono, now_ns=now_ns)

    start = times.get("caller_end") or times.get("first_token") or end_t
    parent = trace.set_span_in_context(call_span)
    attributes: dict[str, Any] = {"aybiza.turn_index": index, "aybiza.turn_kind": kind,
                                  "aybiza.interrupted": interrupted}
    for name, value in (usage or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            attributes[f"aybiza.usage.{name}"] = value
    turn = _tracer.start_span("turn", context=parent, start_time=ns(start),
                              attributes=attributes)
    inside = trace.set_span_in_context(turn)
    previous = start
    for stage, key in (("stt", "stt_final"), ("llm", "first_token"), ("tts", "first_audio"),
                       ("send", "first_frame")):
        at = times.get(key)
        if at is None or at < previous:
            continue
        span = _tracer.start_span(stage, context=inside, start_time=ns(previous))
        span.end(end_time=ns(at))
        previous = at
    turn.end(end_time=ns(max(end_t, previous)))


def traceparent(span: Any) -> str:
    """The W3C `traceparent` of `span` ("" when tracing is off)."""
    if _tracer is None or span is None:
        return ""
    from opentelemetry import trace
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent", "")


@contextmanager
def span_from(parent_traceparent: str, name: str, **attributes: Any) -> Iterator[Any]:
    """A span under the remote parent named by `parent_traceparent` (a tool task's header);
    yields None when tracing is off or there is no parent."""
    if _tracer is None or not parent_traceparent:
        yield None
        return
    from opentelemetry.propagate import extract

    context = extract({"traceparent": parent_traceparent})
    with _tracer.start_as_current_span(name, context=context, attributes={
            f"aybiza.{key}": value for key, value in attributes.items()
            if value is not None}) as span:
        yield span


def current_traceparent() -> str:
    """The `traceparent` of the span current in this thread (a tool run), or ""."""
    if _tracer is None:
        return ""
    from opentelemetry.propagate import inject

    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent", "")
