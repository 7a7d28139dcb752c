"""OpenTelemetry: off by default; on, a call is a trace (call → turn → stt/llm/tts/send) and the
turn's stage spans are stamped from the times the session keeps."""

from __future__ import annotations

import time

import pytest

from aybiza.core import tracing


@pytest.fixture
def spans():
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.uninstall()


def test_tracing_is_off_unless_an_endpoint_is_configured(monkeypatch):
    monkeypatch.delenv(tracing.ENDPOINT_ENV, raising=False)
    tracing.configure()
    assert not tracing.enabled()
    assert tracing.start_call_span(tenant_id=1, call_sid="CA1", agent_id=1,
                                   direction="inbound") is None
    assert tracing.traceparent(None) == "" and tracing.current_traceparent() == ""


def test_a_turn_is_written_as_consecutive_stage_spans_under_the_call(spans):
    call = tracing.start_call_span(tenant_id=4, call_sid="CA42", agent_id=9,
                                   direction="inbound")
    now = time.monotonic()
    caller_end = now - 1.0
    tracing.record_turn(call, index=3, kind="answer", interrupted=False, times={
        "caller_end": caller_end, "stt_final": caller_end + 0.2, "first_token": caller_end + 0.5,
        "first_audio": caller_end + 0.6, "first_frame": caller_end + 0.62},
        end_t=now, usage={"input_tokens": 812, "cache_read_input_tokens": 640}, clock=now)
    tracing.end_span(call, outcome="agent_ended")

    by_name = {span.name: span for span in spans.get_finished_spans()}
    assert set(by_name) == {"call", "turn", "stt", "llm", "tts", "send"}
    call_span, turn = by_name["call"], by_name["turn"]
    assert turn.parent.span_id == call_span.context.span_id
    assert all(by_name[stage].parent.span_id == turn.context.span_id
               for stage in ("stt", "llm", "tts", "send"))
    assert len({span.context.trace_id for span in by_name.values()}) == 1
    durations = {stage: (by_name[stage].end_time - by_name[stage].start_time) / 1e6
                 for stage in ("stt", "llm", "tts", "send")}
    assert durations == pytest.approx({"stt": 200, "llm": 300, "tts": 100, "send": 20}, abs=1)
    assert by_name["stt"].start_time == turn.start_time  # from the moment the caller stopped
    assert turn.attributes["aybiza.usage.cache_read_input_tokens"] == 640
    assert call_span.attributes["aybiza.call_sid"] == "CA42"
    assert call_span.attributes["aybiza.outcome"] == "agent_ended"


def test_the_traceparent_names_the_call_span(spans):
    call = tracing.start_call_span(tenant_id=1, call_sid="CA1", agent_id=None,
                                   direction="browser")
    header = tracing.traceparent(call)
    version, trace_id, span_id, flags = header.split("-")
    assert int(trace_id, 16) == call.context.trace_id
    assert int(span_id, 16) == call.context.span_id
    with tracing.span_from(header, "tool", tool="lookup") as tool:
        assert tool.context.trace_id == call.context.trace_id
        assert tracing.current_traceparent().split("-")[2] == f"{tool.context.span_id:016x}"


def test_with_an_endpoint_spans_are_exported_over_otlp_http(monkeypatch):
    from calls.bench.otlp_sink import OtlpSink

    with OtlpSink().running() as sink:
        monkeypatch.setenv(tracing.ENDPOINT_ENV, sink.endpoint)
        tracing.uninstall()
        tracing.configure()  # what the apps do as they load
        try:
            assert tracing.enabled()
            call = tracing.start_call_span(tenant_id=1, call_sid="CA1", agent_id=1,
                                           direction="inbound")
            tracing.end_span(call, outcome="caller_hung_up")
            assert tracing.flush()
        finally:
            tracing.uninstall()
    assert sink.requests == 1 and sink.bytes > 50
