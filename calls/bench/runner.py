"""`manage.py bench`: the whole benchmark run, from throwaway servers to the report.

PostgreSQL and Redis (devtools.services) live as long as this process; a fresh database is migrated
and seeded with the bench agent (instant fake providers with realistic latencies); one daphne
process serves production settings pinned to the server core; each step of the ramp runs the
load generator in its own process pinned to the other core. PostgreSQL and Redis inherit this
process's pinning (the generator core), so the server core carries only the server.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.metadata
import json
import logging
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

from calls.bench import report, stats
from calls.bench.asgi import STATS_PATH
from calls.bench.cores import pin, pinner
from calls.bench.otlp_sink import OtlpSink
from calls.bench.seed import BENCH_NUMBER
from calls.bench.speech import caller_clips
from calls.realtime.pacer import DEFAULT_LEAD_FRAMES, FRAME_S
from calls.simulator.net import free_port

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PYTHON = sys.executable
DEFAULT_STEPS = (25, 50, 100, 150, 200, 300, 400)
QUICK_STEPS = (25, 100)
FLOOR_CALLS = 100  # connections of the server-floor measurement
PUBLIC_BASE_URL = "https://bench.aybiza.test"
# Two clauses, about 4.5 s of audio at InstantTTS's 60 ms per character.
REPLY_TEXT = "Sure, I can help with that. We are open Monday to Friday from nine to five."
SERVER_READY_TIMEOUT_S = 60.0
SETTLE_S = 3.0  # after the warm-up: the server finishes closing calls and writing their rows
STORE_WAIT_S = 60.0  # longest wait for a step's call rows to be closed


@dataclass
class BenchOptions:
    """Everything a run can be told; the management command fills it from its arguments."""

    steps: tuple[int, ...] = DEFAULT_STEPS
    measure_s: float = 20.0
    warmup_s: float = 4.0
    idle_s: float = 3.0
    connect_rate: float = 50.0
    server: str = "daphne"  # or "uvicorn" (a comparison, not the product)
    server_core: int = 0
    generator_core: int = 1
    output_dir: Path = BASE_DIR / "bench-results"
    profile_at: int | None = None
    offline_cost: bool = True
    floor: bool = True  # the bare server stack's CPU per message (calls.bench.floor)
    write_docs: bool = False
    stop_error_rate: float = 0.05
    stop_jitter_p99_ms: float = 200.0
    stt_final_ms: int = 300
    llm_first_token_ms: int = 400
    tts_first_audio_ms: int = 150
    trace_calls: int = 0  # keep every message of the first calls of each step (debugging)
    otel: bool = False  # OpenTelemetry on in the server, exporting to a local OTLP sink
    command: str = "manage.py bench"
    say: Callable[[str], None] = field(default=print, repr=False)

    @classmethod
    def quick(cls, **overrides) -> BenchOptions:
        defaults = {"steps": QUICK_STEPS, "measure_s": 8.0, "warmup_s": 3.0, "idle_s": 2.0,
                    "offline_cost": False, "floor": False}
        return cls(**{**defaults, **overrides})


def run(options: BenchOptions) -> dict:
    """Run the ramp; returns the results (also written to <output_dir>/<timestamp>.json)."""
    from devtools.services import postgres_server, redis_server

    say = options.say
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per readiness probe
    started_at = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    options.output_dir.mkdir(parents=True, exist_ok=True)
    work = options.output_dir / f"{started_at}-work"
    work.mkdir()
    machine = machine_info()
    pin(os.getpid(), options.generator_core)  # PostgreSQL and Redis inherit it
    results: dict = {
        "started_at": started_at, "command": options.command, "server": options.server,
        "server_core": options.server_core, "generator_core": options.generator_core,
        "machine": machine,
        "options": _jsonable({f.name: getattr(options, f.name) for f in fields(options)}),
        "providers": {"stt_final_ms": options.stt_final_ms,
                      "llm_first_token_ms": options.llm_first_token_ms,
                      "tts_first_audio_ms": options.tts_first_audio_ms},
        "steps": [], "stopped": None,
    }
    clips_path = work / "clips.json"
    turns, barges = caller_clips()
    clips_path.write_text(json.dumps({"turns": [c.as_dict() for c in turns],
                                      "barges": [c.as_dict() for c in barges]}))
    say(f"caller speech: {len(turns)} clips of {', '.join(f'{c.duration_s:.1f}' for c in turns)} "
        f"s, barge-in {barges[0].duration_s:.1f} s")

    with postgres_server("aybiza_bench") as database_url, redis_server() as redis_url, \
            OtlpSink().running() as sink:
        env = server_env(database_url=database_url, redis_url=redis_url, work=work)
        if options.otel:  # tracing's real cost: spans built, batched and sent over OTLP/HTTP
            env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink.endpoint
        say("migrating the bench database")
        _django(["manage.py", "migrate", "--noinput"], env, work / "migrate.log")
        seeded = json.loads(_django(["-m", "calls.bench.seed", json.dumps(agent_fields(options))],
                                    env, work / "seed.log"))
        seeded.pop("api_key", None)  # the campaign bench drives the API; this one does not
        results["agent"] = seeded
        port = free_port()
        with serve(options, env, port, work / "server.log") as server:
            say(f"{options.server} pid {server.pid} on 127.0.0.1:{port}, "
                f"core {options.server_core}")
            base_config = step_config(options, env=env, port=port, seeded=seeded,
                                      clips_path=clips_path, server_pid=server.pid)
            say("warm-up: 2 calls")
            _generate({**base_config, "calls": 2, "idle_measure_s": 1.0, "warmup_s": 1.0,
                       "measure_s": 3.0}, work / "warmup", options.generator_core)
            time.sleep(SETTLE_S)
            baseline = psutil.Process(server.pid).memory_info().rss
            results["baseline_rss"] = baseline
            say(f"idle server RSS {baseline / 2**20:.1f} MB")
            say(report.text_table([]).splitlines()[0])
            for calls in options.steps:
                config = {**base_config, "calls": calls}
                if options.profile_at == calls:
                    config["profile_path"] = str(work / f"profile-{calls}.txt")
                    config["py_spy"] = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
                db_before, redis_before = _db_counters(database_url), _redis_calls(redis_url)
                last_turn = _last_turn_id(database_url)
                step = _generate(config, work / f"step-{calls}", options.generator_core)
                # The server stores each call's end after its stream closes: wait for all of them
                # (how long that takes is reported), then count the backend work.
                step["call_outcomes"], step["calls_stored_s"] = _call_outcomes(
                    database_url, step["config"]["calls"])
                step["backend_work"] = _per_turn(
                    step, db_before, _db_counters(database_url),
                    redis_before, _redis_calls(redis_url))
                step["server_turn_overhead_ms"] = _server_turn_overhead(
                    database_url, after_turn_id=last_turn, options=options,
                    end_of_turn_ms=seeded["end_of_turn_silence_ms"])
                step["cpu_pct_per_call"] = {
                    phase: round(step[phase]["server_cpu_pct"] / calls, 3)
                    for phase in ("idle", "talk")}
                step["rss_per_call_mb"] = {
                    phase: round((step[phase]["server_rss_max"] - baseline) / calls / 2**20, 3)
                    for phase in ("idle", "talk")}
                if config.get("profile_path") and Path(config["profile_path"]).exists():
                    step["profile"] = summarize_profile(Path(config["profile_path"]))
                results["steps"].append(step)
                say(report.text_table([step]).splitlines()[2])
                reason = _stop_reason(step, options, server)
                if reason:
                    results["stopped"] = f"after {calls} calls: {reason}"
                    say(f"stopping the ramp {results['stopped']}")
                    break
            results["server_rss_after"] = psutil.Process(server.pid).memory_info().rss
        if options.otel:
            results["otel"] = {"exports": sink.requests, "bytes": sink.bytes}
            say(f"OpenTelemetry: {sink.requests} OTLP exports, {sink.bytes} bytes received")
    if options.floor:
        say(f"measuring the server stack's floor ({FLOOR_CALLS} bare connections)")
        results["floor"] = server_floor(options, work / "floor.log")
    if options.offline_cost:
        say("measuring the offline speech stack (pocketsphinx, hibari)")
        results["offline_cost"] = offline_cost(options.server_core, work / "offline.log")
    _write(results, options, say)
    return results


# --- the pieces ----------------------------------------------------------------------------------

def agent_fields(options: BenchOptions) -> dict:
    """The bench agent: instant fakes with the simulated latencies (Agent.provider_options)."""
    return {"provider_options": {
        "stt": {"final_latency_ms": options.stt_final_ms},
        "llm": {"reply": REPLY_TEXT, "first_token_ms": options.llm_first_token_ms},
        # 100 ms chunks every 25 ms: a streaming vendor running at 4x real time.
        "tts": {"first_audio_ms": options.tts_first_audio_ms, "chunk_interval_ms": 25},
    }}


def server_env(*, database_url: str, redis_url: str, work: Path) -> dict[str, str]:
    """Production settings, with throwaway secrets and the servers of this run."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("DJANGO_")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "aybiza.settings.prod",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16), "TWILIO_ACCOUNT_SID": "",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "AYBIZA_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        "DEBUG": "false", "LOG_LEVEL": "WARNING",
        "AYBIZA_VAR_DIR": str(work / "var"), "MEDIA_ROOT": str(work / "media"),
        "PYTHONUNBUFFERED": "1",
        "FAKE_PROVIDERS_ENABLED": "true",  # the bench agent talks through the instant doubles
    })
    return env


def step_config(options: BenchOptions, *, env: dict[str, str], port: int, seeded: dict,
                clips_path: Path, server_pid: int) -> dict:
    return {
        "host": "127.0.0.1", "port": port, "public_base_url": PUBLIC_BASE_URL,
        "auth_token": env["TWILIO_AUTH_TOKEN"], "to_number": seeded.get("e164", BENCH_NUMBER),
        "calls": 0, "clips_path": str(clips_path),
        "provider_ms": options.stt_final_ms + options.llm_first_token_ms
        + options.tts_first_audio_ms,
        "end_of_turn_ms": seeded["end_of_turn_silence_ms"],
        "barge_in_min_speech_ms": seeded["barge_in_min_speech_ms"],
        "server_pid": server_pid, "stats_path": STATS_PATH,
        "connect_rate_per_s": options.connect_rate, "idle_measure_s": options.idle_s,
        "warmup_s": options.warmup_s, "measure_s": options.measure_s,
        "skip_audio_s": (DEFAULT_LEAD_FRAMES + 1) * FRAME_S,
        "trace_calls": options.trace_calls, "server_core": options.server_core,
        "generator_core": options.generator_core,
    }


@contextlib.contextmanager
def serve(options: BenchOptions, env: dict[str, str], port: int,
          log_path: Path) -> Iterator[subprocess.Popen]:
    """One server process (daphne, or uvicorn for comparison) pinned to the server core."""
    bindir = Path(PYTHON).parent
    if options.server == "daphne":
        argv = [PYTHON, "-m", "aybiza.server", "-b", "127.0.0.1", "-p", str(port),
                "calls.bench.asgi:application"]
    elif options.server == "uvicorn":
        argv = [str(bindir / "uvicorn"), "calls.bench.asgi:application", "--host", "127.0.0.1",
                "--port", str(port), "--log-level", "warning", "--no-access-log",
                "--loop", "asyncio", "--ws", "websockets-sansio", "--lifespan", "on"]
    else:
        raise ValueError(f"unknown server {options.server!r}")
    with open(log_path, "ab") as log:
        process = subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   preexec_fn=pinner(options.server_core))
    try:
        _wait_ready(process, port, log_path)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # daphne closes its sockets and calls cleanly
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def offline_cost(core: int, log_path: Path) -> dict:
    """CPU cost of pocketsphinx and hibari per second of audio, in a process on `core`."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "aybiza.settings.dev"}
    try:
        output = subprocess.run([PYTHON, "-m", "calls.bench.offline_cost"], cwd=BASE_DIR, env=env,
                                capture_output=True, text=True, timeout=600, check=True,
                                preexec_fn=pinner(core))
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log_path.write_text(f"{exc}\n{getattr(exc, 'stderr', '')}")
        return {"error": f"failed, see {log_path}"}
    log_path.write_text(output.stderr)
    return json.loads(output.stdout)


def summarize_profile(path: Path, top: int = 25) -> dict:
    """py-spy's collapsed stacks → the functions with the most self and inclusive samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {"samples": total, "self_pct": share(own), "inclusive_pct": share(inclusive)}


def machine_info() -> dict:
    cpu_model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    return {"cpu_model": cpu_model, "cores": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "daphne": version("daphne"),
            "django": version("Django"), "channels": version("channels"),
            "uvicorn": version("uvicorn"),
            "loadavg_before": [round(x, 2) for x in os.getloadavg()]}


# --- helpers -------------------------------------------------------------------------------------

def _generate(config: dict, prefix: Path, core: int) -> dict:
    config_path, result_path = prefix.with_suffix(".config.json"), prefix.with_suffix(".json")
    config_path.write_text(json.dumps(config))
    budget = 120 + config["calls"] / config["connect_rate_per_s"] + config["measure_s"] * 2
    with open(prefix.with_suffix(".log"), "ab") as log:
        subprocess.run([PYTHON, "-m", "calls.bench.generator", str(config_path), str(result_path)],
                       cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT, check=True,
                       timeout=budget, preexec_fn=pinner(core))
    return json.loads(result_path.read_text())


def _db_counters(database_url: str) -> dict[str, int]:
    """PostgreSQL's own counters for the bench database (commits, rows written and read)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT xact_commit, tup_inserted, tup_updated, tup_deleted, tup_returned "
            "FROM pg_stat_database WHERE datname = current_database()").fetchone()
        scans = conn.execute(
            "SELECT relname, seq_tup_read FROM pg_stat_user_tables").fetchall()
    names = ("commits", "rows_inserted", "rows_updated", "rows_deleted", "rows_returned")
    counters = dict(zip(names, (int(v) for v in row), strict=True)) if row else {}
    # Rows read by sequential scans, per table: a scan that grows with the data shows here.
    counters.update({f"seq_read:{name}": int(rows or 0) for name, rows in scans})
    return counters


def _provider_ms(options: BenchOptions) -> int:
    return options.stt_final_ms + options.llm_first_token_ms + options.tts_first_audio_ms


def _last_turn_id(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        return int(conn.execute("SELECT coalesce(max(id), 0) FROM calls_turn").fetchone()[0])


def _server_turn_overhead(database_url: str, *, after_turn_id: int, options: BenchOptions,
                          end_of_turn_ms: int) -> dict:
    """Turn overhead by the server's own clock: each reply's `first_frame_ms` (its VAD's last
    voiced frame → first frame sent) minus the provider time and the end-of-turn silence.

    The generator's figure starts at the caller's last voiced frame as a fresh VAD judged it;
    this one starts where the server's VAD did, so the difference is VAD decision latency.
    `stages` splits it where the turn's timestamps allow: end of turn → STT final, → first LLM
    token, → first TTS audio, → first frame sent, each minus its simulated latency.
    """
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT stt_final_ms, llm_first_token_ms, tts_first_audio_ms, first_frame_ms "
            "FROM calls_turn WHERE id > %s AND role = 'agent' AND first_frame_ms IS NOT NULL",
            (after_turn_id,)).fetchall()
    values = sorted(row[3] - _provider_ms(options) - end_of_turn_ms for row in rows)
    simulated = {"stt_final": end_of_turn_ms + options.stt_final_ms,
                 "llm_first_token": options.llm_first_token_ms,
                 "tts_first_audio": options.tts_first_audio_ms, "first_frame": 0}
    stages: dict[str, list[float]] = {name: [] for name in simulated}
    for row in rows:
        previous = 0
        for name, at in zip(simulated, row, strict=True):
            if at is None or previous is None:
                previous = None
                continue
            stages[name].append(at - previous - simulated[name])
            previous = at
    return {"turns": len(values), **stats.summarize(values),
            "stages": {name: stats.summarize(sorted(v)) for name, v in stages.items() if v}}


def server_floor(options: BenchOptions, log_path: Path) -> list[dict] | dict:
    """`calls.bench.floor` on the same cores: the bare server stack's CPU per message."""
    argv = [PYTHON, "-m", "calls.bench.floor", "--calls", str(FLOOR_CALLS),
            "--server-core", str(options.server_core),
            "--generator-core", str(options.generator_core)]
    try:
        output = subprocess.run(argv, cwd=BASE_DIR, capture_output=True, text=True, timeout=600,
                                check=True)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        log_path.write_text(f"{exc}\n{getattr(exc, 'stderr', '')}")
        return {"error": f"failed, see {log_path}"}
    log_path.write_text(output.stderr)
    return json.loads(output.stdout)


def _call_outcomes(database_url: str, last: int) -> tuple[dict[str, int], float]:
    """How the step's calls ended, as the server stored it (the last `last` calls), once none
    is open any more (at most STORE_WAIT_S), and the seconds that took after the hang-ups."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT coalesce(nullif(outcome, ''), 'open'), count(*) FROM "
                "(SELECT outcome FROM calls_call ORDER BY id DESC LIMIT %s) recent GROUP BY 1",
                (last,)).fetchall()
            outcomes = {outcome: int(count) for outcome, count in rows}
            waited = time.monotonic() - started
            if "open" not in outcomes or waited > STORE_WAIT_S:
                return outcomes, round(waited, 2)
            time.sleep(0.25)


def _redis_calls(redis_url: str) -> int:
    """Commands Redis has served so far (channel layer, cache, Celery broker together)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        return sum(int(stat["calls"]) for stat in client.info("commandstats").values())
    finally:
        client.close()


def _per_turn(step: dict, db_before: dict, db_after: dict, redis_before: int,
              redis_after: int) -> dict:
    """Database and Redis work over the whole step (set-up and hang-up included), per call and
    per caller turn. PostgreSQL flushes its statistics now and then: approximate."""
    delta = {name: db_after.get(name, 0) - value for name, value in db_before.items()}
    delta["redis_commands"] = redis_after - redis_before
    calls = max(1, step["connected"])
    turns = max(1, step.get("caller_turns_total", step["caller_turns"]))
    delta = {name: value for name, value in delta.items()
             if not name.startswith("seq_read:") or value}
    return {"caller_turns": turns,
            "per_call": {name: round(value / calls, 2) for name, value in delta.items()},
            "per_caller_turn": {name: round(value / turns, 2) for name, value in delta.items()}}


def _stop_reason(step: dict, options: BenchOptions, server: subprocess.Popen) -> str | None:
    if server.poll() is not None:
        return f"the server exited with {server.returncode}"
    if step["error_rate"] > options.stop_error_rate:
        return f"errors {100 * step['error_rate']:.1f} % > {100 * options.stop_error_rate:g} %"
    p99 = step["jitter_ms"]["p99"]
    if p99 is not None and p99 > options.stop_jitter_p99_ms:
        return f"jitter p99 {p99:.0f} ms > {options.stop_jitter_p99_ms:g} ms"
    return None


def _write(results: dict, options: BenchOptions, say: Callable[[str], None]) -> None:
    out = options.output_dir
    json_path = out / f"{results['started_at']}.json"
    json_path.write_text(json.dumps(results, indent=1))
    png_path = out / f"{results['started_at']}.png"
    title = (f"{results['server']} on 1 core of {results['machine']['cpu_model']} "
             f"({results['started_at']})")
    if results["steps"]:
        report.plot(results["steps"], png_path, title)
    say("")
    say(report.text_table(results["steps"]))
    for name, met, evidence in report.targets(results["steps"]):
        say(f"  {'MET ' if met else 'MISS' if met is not None else 'n/a '}  {name}: {evidence}")
    bound = report.cpu_bound_calls_per_core(results["steps"])
    if bound:
        say(f"CPU-bound ceiling: about {bound:.0f} talking calls per core at 100 % CPU")
    if results.get("offline_cost"):
        say(f"offline speech stack: {json.dumps(results['offline_cost'])}")
    say(f"results: {json_path}" + (f", plot: {png_path}" if results["steps"] else ""))
    if options.write_docs and results["steps"]:
        docs = BASE_DIR / "docs"
        report.update_docs(docs / "performance.md", report.markdown_section(results))
        shutil.copyfile(png_path, docs / "performance.png")
        say("updated docs/performance.md and docs/performance.png")


def _django(args: list[str], env: dict[str, str], log_path: Path) -> str:
    completed = subprocess.run([PYTHON, *args], cwd=BASE_DIR, env=env, capture_output=True,
                               text=True, timeout=600)
    log_path.write_text(completed.stdout + completed.stderr)
    if completed.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed; see {log_path}:\n"
                           f"{completed.stderr[-2000:]}")
    return completed.stdout


def _wait_ready(process: subprocess.Popen, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}; see {log_path}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}{STATS_PATH}", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {SERVER_READY_TIMEOUT_S:.0f}s; "
                       f"see {log_path}")


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if not callable(v)}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
