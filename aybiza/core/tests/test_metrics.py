"""`/metrics`: who may read it, and that a call, its turns, events and tool runs are counted
(parsed with prometheus_client's own parser)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db
TOKEN = "scrape-token-123"
ROOT = Path(__file__).resolve().parents[3]


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(**headers) -> dict[tuple[str, tuple], float]:
    response = Client().get("/metrics", headers={"authorization": f"Bearer {TOKEN}", **headers})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


def test_a_scraper_needs_the_token(settings):
    settings.METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    wrong = Client().get("/metrics", headers={"authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Bearer")
    assert Client().get("/metrics", headers={"authorization": f"Bearer {TOKEN}"}
                        ).status_code == 200


@pytest.mark.parametrize(("debug", "address", "status"), [
    (True, "127.0.0.1", 200),  # the embedded default, from this machine
    (True, "203.0.113.9", 403),  # the embedded default, from elsewhere
    (False, "127.0.0.1", 403),  # production without a token: a local proxy looks local
])
def test_without_a_token_only_local_clients_of_the_embedded_default_read_it(
        settings, debug, address, status):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = debug
    assert Client(REMOTE_ADDR=address).get("/metrics").status_code == status


def test_a_call_its_turns_events_and_tools_are_counted(settings, tenant, phone_number):
    from calls.models import Direction, Role
    from calls.services import call_finish, call_start, events_record, turns_save
    from tools.execution import finish_execution
    from tools.executor.outcome import succeeded
    from tools.models import ToolExecution

    settings.METRICS_TOKEN = TOKEN
    started = ("aybiza_calls_started_total", (("direction", Direction.INBOUND),))
    ended = ("aybiza_calls_ended_total", (("direction", Direction.INBOUND),
                                          ("outcome", "caller_hung_up")))
    voice_to_voice = ("aybiza_turn_stage_seconds_count", (("stage", "first_frame"),))
    fast_answers = ("aybiza_turn_stage_seconds_bucket", (("le", "0.8"), ("stage", "first_frame")))
    barge_ins = ("aybiza_call_events_total", (("type", "barge_in"),))
    tool_runs = ("aybiza_tool_run_seconds_count", (("status", "succeeded"),))
    before = scrape()
    # when a call starts, the agent answers in 640 ms, the caller barges in, a tool runs, and
    # the call ends
    call = call_start(tenant=tenant, phone_number=phone_number, call_sid="CA" + "7" * 32,
                      from_number="+15557654321", to_number=phone_number.e164)
    turns_save([{"call": call, "index": 0, "role": Role.AGENT, "text": "Hello.",
                 "stt_final_ms": 180, "llm_first_token_ms": 420, "tts_first_audio_ms": 600,
                 "first_frame_ms": 640}])
    events_record([{"call": call, "type": "barge_in", "payload": {}}])
    execution = ToolExecution.objects.create(tenant=tenant, tool_name="lookup",
                                             tool_call_id="toolu_1", call=call)
    finish_execution(execution, succeeded({"ok": True}), 120)
    call_finish(call=call, outcome="caller_hung_up")
    after = scrape()
    # then each is counted once
    for key in (started, ended, voice_to_voice, fast_answers, barge_ins, tool_runs):
        assert after[key] - before.get(key, 0) == 1, key
    assert after[("aybiza_turn_stage_seconds_sum", (("stage", "first_frame"),))] - before.get(
        ("aybiza_turn_stage_seconds_sum", (("stage", "first_frame"),)), 0) == pytest.approx(0.64)


def test_process_readings_are_there_at_every_scrape(settings):
    settings.METRICS_TOKEN = TOKEN
    found = scrape()
    assert ("aybiza_active_calls", ()) in found
    assert ("aybiza_pacer_tick_lag_seconds_bucket", (("le", "+Inf"),)) in found
    assert ("aybiza_pacer_sessions", ()) in found


def test_several_processes_are_summed_in_multiprocess_mode(tmp_path: Path):
    # given two processes (say, two Celery workers) that each counted a call end
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "aybiza.settings.test", "PYTHONPATH": str(ROOT)}
    count = ("import django; django.setup()\n"
             "from aybiza.core import metrics\n"
             "metrics.CALLS_ENDED.labels(outcome='agent_ended', direction='inbound').inc()\n")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", count], env=env, check=True, cwd=ROOT, timeout=120)
    # when a third (the web server) renders /metrics
    show = ("import django; django.setup()\n"
            "from aybiza.core.metrics import exposition\n"
            "print(exposition()[0].decode())\n")
    text = subprocess.run([sys.executable, "-c", show], env=env, check=True, cwd=ROOT,
                          capture_output=True, text=True, timeout=120).stdout
    # then it reports both
    assert samples(text)[("aybiza_calls_ended_total", (("direction", "inbound"),
                                                       ("outcome", "agent_ended")))] == 2


def test_the_grafana_dashboard_queries_only_metrics_we_serve(settings):
    import json
    import re

    from aybiza.core.metrics import BROKER_UP, QUEUE_DEPTH

    settings.METRICS_TOKEN = TOKEN
    response = Client().get("/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    families = list(text_string_to_metric_families(response.content.decode()))
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}
    served = {family.name + suffix for family in families
              for suffix in ["", *suffixes.get(family.type, [])]}
    served |= {QUEUE_DEPTH, BROKER_UP}  # with a Redis broker only (test below)
    dashboard = json.loads((ROOT / "docs" / "ops" / "grafana-dashboard.json").read_text())
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\baybiza_[a-z_]+", target["expr"])}
    assert len(queried) >= 9
    assert queried - served == set()


@pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                    reason="needs Redis (REDIS_URL): run through `make test` (tests.services)")
def test_celery_queue_depth_is_read_from_the_redis_broker(settings):
    import redis

    from aybiza.core import metrics

    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    metrics._broker_client = None
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.delete("tools")
    client.rpush("tools", "task-1", "task-2")
    try:
        depth, up = metrics.celery_queue_depths()
    finally:
        client.delete("tools")
        metrics._broker_client = None
    assert ([("tools",), 2.0] in [[tuple(s.labels.values()), s.value] for s in depth.samples])
    assert up.samples[0].value == 1


def test_an_unreachable_broker_reads_as_down_not_as_a_slow_scrape(settings):
    import time

    from aybiza.core import metrics

    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    metrics._broker_client = None
    started = time.monotonic()
    try:
        families = metrics.celery_queue_depths()
    finally:
        metrics._broker_client = None
    assert [(f.name, f.samples[0].value) for f in families] == [(metrics.BROKER_UP, 0)]
    assert time.monotonic() - started < 2
