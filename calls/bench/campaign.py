"""`manage.py bench_campaign`: the seed's 10,000-call test, through the real dialer.

Throwaway PostgreSQL and Redis; one daphne and one Celery worker (production settings) pinned
to the server core; in this process, on the other core, the call simulator's carrier plays
Twilio's REST API and phone network (`calls/simulator/carrier.py`) and Celery beat's part
(a `calls.dialer_tick` every second). A campaign of N people is created, uploaded and started
over the public API. Each callee is a person who hears the agent's opening and hangs up, a
voicemail box (greeting, beep, the agent's message), a busy line or a phone nobody answers —
calls of a few seconds. Reported: dial rate, concurrency reached, rows answered / voicemail /
failed, attempts and retries, rows dropped (must be 0), double dials (must be 0), wall time.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiohttp import web

from calls.bench.cores import pin, pinner
from calls.bench.runner import (
    BASE_DIR,
    PUBLIC_BASE_URL,
    PYTHON,
    _django,
    _wait_ready,
    machine_info,
    server_env,
)
from calls.simulator.carrier import Callee, Carrier
from calls.simulator.net import free_port

ACCOUNT_SID = "AC" + "b" * 32
MIX = (("human", 0.70), ("voicemail", 0.15), ("busy", 0.10), ("no-answer", 0.05))
OPENING = "Hi {{name}}, this is Bench Dental with a reminder of your check-up tomorrow at ten."
VOICEMAIL = "Hi {{name}}, this is Bench Dental: your check-up is tomorrow at ten. Goodbye!"
# The bench agent speaks through the instant double: a short opening keeps calls a few seconds.
AGENT_TTS = {"first_audio_ms": 150, "chunk_interval_ms": 25, "ms_per_char": 30}


@dataclass
class CampaignBenchOptions:
    contacts: int = 10_000
    max_concurrent: int = 150
    calls_per_second: float = 50.0
    max_attempts: int = 2
    retry_delay_s: int = 5
    worker_concurrency: int = 4
    server_core: int = 0
    generator_core: int = 1
    timeout_s: float = 3600.0
    seed: int = 7
    output_dir: Path = BASE_DIR / "bench-results"
    say: Callable[[str], None] = field(default=print, repr=False)


def run(options: CampaignBenchOptions) -> dict:
    from devtools.services import postgres_server, redis_server

    say = options.say
    started_at = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = options.output_dir / f"{started_at}-campaign"
    work.mkdir(parents=True)
    pin(os.getpid(), options.generator_core)
    with postgres_server("aybiza_bench_campaign") as database_url, \
            redis_server() as redis_url:
        port, carrier_port = free_port(), free_port()
        env = server_env(database_url=database_url, redis_url=redis_url, work=work)
        env.update({
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_API_BASE_URL": f"http://127.0.0.1:{carrier_port}",
            "OUTBOUND_MAX_CONCURRENT_PER_TENANT": str(options.max_concurrent),
            "OUTBOUND_CALLS_PER_SECOND_PER_TENANT": str(options.calls_per_second),
            # Measured here: the dialer and the calls, not the post-call analysis of each.
            "POST_CALL_ANALYSIS": "false",
        })
        say("migrating the bench database")
        _django(["manage.py", "migrate", "--noinput"], env, work / "migrate.log")
        seeded = json.loads(_django(["-m", "calls.bench.seed", json.dumps(agent_fields())],
                                    env, work / "seed.log"))
        with _process(["-m", "aybiza.server", "-b", "127.0.0.1", "-p", str(port),
                       "calls.bench.asgi:application"], env, work / "server.log",
                      options.server_core) as server, \
                _process(["-m", "celery", "-A", "aybiza", "worker", "-Q", "default,tools",
                          "--pool", "threads", "--concurrency",
                          str(options.worker_concurrency), "--without-mingle",
                          "--without-gossip", "--loglevel", "WARNING"], env,
                         work / "worker.log", options.server_core):
            _wait_ready(server, port, work / "server.log")
            say(f"daphne pid {server.pid} on 127.0.0.1:{port} and a Celery worker, core "
                f"{options.server_core}; carrier and beat here, core {options.generator_core}")
            carrier = Carrier(ACCOUNT_SID, env["TWILIO_AUTH_TOKEN"],
                              routes={PUBLIC_BASE_URL: f"http://127.0.0.1:{port}"})
            result = asyncio.run(_drive(options, carrier, carrier_port,
                                        f"http://127.0.0.1:{port}", seeded, redis_url))
    result.update({"started_at": started_at, "machine": machine_info(),
                   "options": {k: v for k, v in vars(options).items()
                               if k not in ("say", "output_dir")}})
    (work / "result.json").write_text(json.dumps(result, indent=2, default=str))
    say(summary(result))
    say(f"written to {work / 'result.json'}")
    return result


def agent_fields() -> dict:
    return {"outbound_greeting": OPENING, "voicemail_message": VOICEMAIL, "greeting": "Hello.",
            "recording_mode": "off", "remember_callers": False,
            "provider_options": {"stt": {"final_latency_ms": 300},
                                 "llm": {"reply": "Thank you. Goodbye!", "first_token_ms": 400},
                                 "tts": AGENT_TTS}}


def people(options: CampaignBenchOptions) -> list[tuple[str, str, Callee | list[Callee]]]:
    """(number, name, who answers) for each row: the mix, in a shuffled but fixed order."""
    rng = random.Random(options.seed)
    kinds = [kind for kind, share in MIX for _ in range(round(share * options.contacts))]
    kinds = (kinds + ["human"] * options.contacts)[:options.contacts]
    rng.shuffle(kinds)
    rows = []
    for n, kind in enumerate(kinds):
        number = f"+1555{2000000 + n:07d}"
        if kind == "busy":  # busy once, then answered: a retry
            callee: Callee | list[Callee] = [Callee(kind="busy", ring_s=0.2),
                                             Callee(kind="human", linger_s=0.3)]
        elif kind == "no-answer":  # never answers: retried, then given up
            callee = Callee(kind="no-answer", ring_s=1.0)
        else:
            callee = Callee(kind=kind, ring_s=0.3, linger_s=0.3,
                            greeting="Please leave a message.")
        rows.append((number, f"P{n}", callee))
    return rows


async def _drive(options: CampaignBenchOptions, carrier: Carrier, carrier_port: int,
                 base_url: str, seeded: dict, redis_url: str) -> dict:
    from celery import Celery

    say = options.say
    rows = people(options)
    expected = Counter(_kind(callee) for _, _, callee in rows)
    for number, _, callee in rows:
        carrier.callees[number] = callee
    runner = web.AppRunner(carrier.build_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", carrier_port).start()
    beat = Celery(broker=redis_url)
    # As through the TLS-terminating load balancer in front of the server.
    headers = {"Authorization": f"Bearer {seeded['api_key']}", "X-Forwarded-Proto": "https",
               "Host": PUBLIC_BASE_URL.split("://", 1)[1]}
    timeline: list[dict] = []
    try:
        async with httpx.AsyncClient(base_url=f"{base_url}/api/v1", headers=headers,
                                     timeout=600) as api:
            created = await api.post("/campaigns/", json={
                "name": "Bench reminders", "agent": seeded["agent_id"],
                "from_number": seeded["number_id"], "legal_basis": "contract",
                "window_days": list(range(7)), "window_start": "00:00", "window_end": "23:59",
                "max_concurrent": options.max_concurrent,
                "calls_per_second": options.calls_per_second,
                "max_attempts": options.max_attempts, "retry_delay_s": options.retry_delay_s})
            created.raise_for_status()
            campaign_id = created.json()["id"]
            text = "\n".join(["phone,name", *(f"{number},{name}" for number, name, _ in rows)])
            upload_t0 = time.monotonic()
            uploaded = await api.post(f"/campaigns/{campaign_id}/rows/", json={"csv": text})
            uploaded.raise_for_status()
            upload_s = time.monotonic() - upload_t0
            say(f"uploaded {uploaded.json()['accepted']} rows in {upload_s:.1f} s "
                f"({len(uploaded.json()['rejected'])} refused)")
            (await api.post(f"/campaigns/{campaign_id}/start/")).raise_for_status()
            t0 = time.monotonic()
            detail = await _follow(api, campaign_id, carrier, beat, t0, timeline, options)
            wall_s = time.monotonic() - t0
            await carrier.wait_idle(timeout_s=60)
            export = (await api.get(f"/campaigns/{campaign_id}/export/")).text
    finally:
        await runner.cleanup()
    return _result(detail, export, carrier, timeline, wall_s, upload_s, expected)


def _kind(callee: Callee | list[Callee]) -> str:
    return "busy" if isinstance(callee, list) else callee.kind


async def _follow(api: httpx.AsyncClient, campaign_id: int, carrier: Carrier, beat, t0: float,
                  timeline: list[dict], options: CampaignBenchOptions) -> dict:
    """Tick the dialer every second (beat's job) and sample the progress until done."""
    last_dials = 0
    while True:
        beat.send_task("calls.dialer_tick", queue="default")
        await asyncio.sleep(1.0)
        detail = (await api.get(f"/campaigns/{campaign_id}/")).json()
        dials = sum(carrier.dials.values())
        sample = {"t": round(time.monotonic() - t0, 1), "dials": dials,
                  "dial_rate": dials - last_dials, "live": carrier.live_calls,
                  "by_state": {k: v for k, v in detail["progress"]["by_state"].items() if v}}
        last_dials = dials
        timeline.append(sample)
        if len(timeline) % 15 == 0:
            options.say(f"  {sample['t']:>6.0f} s  dialled {dials:>6}  live {sample['live']:>4}"
                        f"  {sample['by_state']}")
        if detail["status"] in ("completed", "cancelled"):
            return detail
        if time.monotonic() - t0 > options.timeout_s:
            return detail


def _result(detail: dict, export: str, carrier: Carrier, timeline: list[dict], wall_s: float,
            upload_s: float, expected: Counter) -> dict:
    rows = list(csv.DictReader(io.StringIO(export)))
    attempts = {row["phone_number"]: int(row["attempts"]) for row in rows}
    double = sum(1 for number, dialled in carrier.dials.items()
                 if dialled > attempts.get(number, 0))
    states = Counter(row["state"] for row in rows)
    rates = [s["dial_rate"] for s in timeline if s["dial_rate"]]
    statuses = Counter(call.status for call in carrier.placed.values())
    return {
        "rows": len(rows), "by_state": dict(states), "expected_callees": dict(expected),
        "campaign_status": detail["status"],
        "dropped": sum(n for state, n in states.items() if state in ("pending", "calling")),
        "double_dials": double, "dials": sum(carrier.dials.values()),
        "retries": sum(max(0, n - 1) for n in attempts.values()),
        "carrier_statuses": dict(statuses),
        "max_concurrency": carrier.max_live, "wall_s": round(wall_s, 1),
        "upload_s": round(upload_s, 1),
        "dial_rate_per_s": {"mean": round(sum(carrier.dials.values()) / max(wall_s, 1e-9), 1),
                            "max": max(rates, default=0)},
        "timeline": timeline,
    }


def summary(result: dict) -> str:
    return (f"{result['rows']} rows in {result['wall_s']:.0f} s (upload {result['upload_s']:.0f} "
            f"s): {result['by_state']}; dials {result['dials']} (retries {result['retries']}), "
            f"dial rate mean {result['dial_rate_per_s']['mean']}/s max "
            f"{result['dial_rate_per_s']['max']}/s, concurrency max {result['max_concurrency']}, "
            f"dropped {result['dropped']}, double dials {result['double_dials']}")


class _process:
    """A pinned child process (daphne, the worker), stopped with SIGINT on exit."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, core: int):
        self.args, self.env, self.log_path, self.core = args, env, log_path, core

    def __enter__(self) -> subprocess.Popen:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [PYTHON, *self.args], cwd=BASE_DIR, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=pinner(self.core))
        return self.process

    def __exit__(self, *exc_info) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

