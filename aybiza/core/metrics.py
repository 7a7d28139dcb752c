"""Prometheus metrics of the platform, served at `/metrics` (`aybiza.core.views.metrics`).

Recorded where the facts are already known, never per 20 ms frame: a call's start and end (the
services), each agent turn's stage latencies when the turn is saved (the batched writer thread),
call events as they are stored, tool runs as they finish, active calls as sessions open and
close. Process-wide readings (the pacer's tick lag, Celery queue depth) are collected at scrape
time by the collectors other apps register in `scrape_collectors`.

No tenant, agent or caller labels: label values must stay few (Prometheus keeps one series per
combination) and carry no personal data. Per-tenant figures are the dashboard's and the API's.

Several processes (daphne, Celery workers) on one host: set `PROMETHEUS_MULTIPROC_DIR` to an
empty folder shared by them before they start; each scrape then sums every process's values.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS_S = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)

CALLS_STARTED = Counter("aybiza_calls_started", "Calls started, by direction.", ["direction"])
CALLS_ENDED = Counter("aybiza_calls_ended", "Calls ended, by outcome and direction.",
                      ["outcome", "direction"])
CALL_DURATION = Histogram("aybiza_call_duration_seconds", "Length of ended calls.",
                          buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600))
ACTIVE_CALLS = Gauge("aybiza_active_calls", "Live call sessions (summed over processes).",
                     multiprocess_mode="livesum")
TURN_STAGE = Histogram(
    "aybiza_turn_stage_seconds",
    "Time from the caller's end of speech to each stage of the agent's answer: stt_final, "
    "llm_first_token, tts_first_audio, first_frame (voice to voice).",
    ["stage"], buckets=LATENCY_BUCKETS_S)
CALL_EVENTS = Counter("aybiza_call_events", "Call events stored, by type (barge_in, "
                      "provider_error, provider_failover, dtmf, voice_fallback, ...).", ["type"])
TOOL_RUNS = Histogram("aybiza_tool_run_seconds", "Tool run duration, by final status.",
                      ["status"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30))

TURN_STAGES = ("stt_final_ms", "llm_first_token_ms", "tts_first_audio_ms", "first_frame_ms")

# Callables returning metric families for this process, read at each scrape (cheap readings of
# state other modules keep anyway). Registered by the apps that own that state.
scrape_collectors: list[Callable[[], Iterable[Metric]]] = []


def observe_turn_latencies(fields: dict) -> None:
    """Record an agent turn's stage latencies (the *_ms fields a saved turn carries)."""
    for name in TURN_STAGES:
        value = fields.get(name)
        if isinstance(value, int | float) and value >= 0:
            TURN_STAGE.labels(stage=name.removesuffix("_ms")).observe(value / 1000)


class _ScrapeCollector:
    def collect(self) -> Iterable[Metric]:
        for collect in list(scrape_collectors):
            yield from collect()


_SCRAPE = _ScrapeCollector()
REGISTRY.register(_SCRAPE)


def exposition() -> tuple[bytes, str]:
    """The text exposition format of every metric (all processes in multiprocess mode)."""
    if os.environ.get(MULTIPROCESS_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(_SCRAPE)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


_broker_client = None
QUEUE_DEPTH = "aybiza_celery_queue_depth"
BROKER_UP = "aybiza_celery_broker_up"


def celery_queue_depths() -> list[Metric]:
    """Tasks waiting in each Celery queue on the Redis broker (none in the embedded default,
    where tasks run in-process). A broker that does not answer within half a second reads as
    `aybiza_celery_broker_up 0`, never as a slow scrape."""
    from django.conf import settings
    from prometheus_client.metrics_core import GaugeMetricFamily

    global _broker_client
    broker = getattr(settings, "CELERY_BROKER_URL", "")
    if not broker.startswith(("redis://", "rediss://")):
        return []
    import redis

    if _broker_client is None:
        _broker_client = redis.Redis.from_url(broker, socket_timeout=0.5,
                                              socket_connect_timeout=0.5)
    queues = sorted({settings.CELERY_TASK_DEFAULT_QUEUE,
                     *(route["queue"] for route in settings.CELERY_TASK_ROUTES.values())})
    depth = GaugeMetricFamily(QUEUE_DEPTH, "Tasks waiting in a Celery queue.", labels=["queue"])
    up = GaugeMetricFamily(BROKER_UP, "Whether the Celery broker answered.")
    try:
        for queue in queues:
            depth.add_metric([queue], _broker_client.llen(queue))
    except redis.RedisError:
        up.add_metric([], 0)
        return [up]
    up.add_metric([], 1)
    return [depth, up]
