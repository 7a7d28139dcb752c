"""`manage.py bench` (`make bench`): the load and latency benchmark; see docs/performance.md."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from calls.bench.runner import BASE_DIR, DEFAULT_STEPS, BenchOptions, run


def _steps(value: str) -> tuple[int, ...]:
    try:
        steps = tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise CommandError(f"--steps takes numbers separated by commas, not {value!r}") from exc
    if not steps or min(steps) < 1:
        raise CommandError("--steps needs at least one positive number of calls")
    return steps


class Command(BaseCommand):
    help = ("Ramp concurrent simulated Twilio calls against a real daphne server (PostgreSQL, "
            "Redis, production settings) and report jitter, turn overhead, CPU and memory.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--quick", action="store_true",
                            help="25 and 100 calls, 8 s windows, no offline-stack measurement.")
        parser.add_argument("--steps", type=_steps, default=None,
                            help="Concurrent calls per step (default "
                                 f"{','.join(map(str, DEFAULT_STEPS))}).")
        parser.add_argument("--measure-s", type=float, default=None,
                            help="Measurement window per step in seconds (default 20, quick 8).")
        parser.add_argument("--warmup-s", type=float, default=None,
                            help="Talking before the window opens (default 4, quick 3).")
        parser.add_argument("--connect-rate", type=float, default=50.0,
                            help="New calls per second while a step ramps up (default 50).")
        parser.add_argument("--server", choices=("daphne", "uvicorn"), default="daphne",
                            help="ASGI server (uvicorn only as a comparison).")
        parser.add_argument("--server-core", type=int, default=0)
        parser.add_argument("--generator-core", type=int, default=1)
        parser.add_argument("--profile-at", type=int, default=None, metavar="N",
                            help="Record a py-spy profile of the server during the N-call step.")
        parser.add_argument("--no-offline-cost", action="store_true",
                            help="Skip measuring pocketsphinx / hibari CPU per audio second.")
        parser.add_argument("--offline-cost", action="store_true",
                            help="Measure the offline stack even with --quick.")
        parser.add_argument("--no-floor", action="store_true",
                            help="Skip measuring the bare server stack's CPU per message.")
        parser.add_argument("--floor", action="store_true",
                            help="Measure the server floor even with --quick.")
        parser.add_argument("--write-docs", action="store_true",
                            help="Update docs/performance.md and docs/performance.png.")
        parser.add_argument("--trace-calls", type=int, default=0, metavar="K",
                            help="Keep every message of the first K calls in the results.")
        parser.add_argument("--otel", action="store_true",
                            help="Turn OpenTelemetry tracing on in the server (exported to a "
                                 "local OTLP receiver) to measure its cost.")
        parser.add_argument("--output-dir", type=Path, default=BASE_DIR / "bench-results")

    def handle(self, *args, **opts) -> None:
        overrides = {
            "connect_rate": opts["connect_rate"], "server": opts["server"],
            "server_core": opts["server_core"], "generator_core": opts["generator_core"],
            "profile_at": opts["profile_at"], "write_docs": opts["write_docs"],
            "output_dir": opts["output_dir"], "say": self.stdout.write,
            "trace_calls": opts["trace_calls"], "otel": opts["otel"],
            "command": "manage.py bench " + " ".join(_given(opts)),
        }
        for name in ("steps", "measure_s", "warmup_s"):
            if opts[name] is not None:
                overrides[name] = opts[name]
        options = BenchOptions.quick(**overrides) if opts["quick"] else BenchOptions(**overrides)
        if opts["no_offline_cost"]:
            options.offline_cost = False
        elif opts["offline_cost"]:
            options.offline_cost = True
        if opts["no_floor"]:
            options.floor = False
        elif opts["floor"]:
            options.floor = True
        try:
            run(options)
        except RuntimeError as exc:
            raise CommandError(str(exc)) from exc


def _given(opts: dict) -> list[str]:
    """The options the run was given, for the report."""
    flags = []
    for name in ("quick", "write_docs", "no_offline_cost", "offline_cost", "no_floor", "floor"):
        if opts.get(name):
            flags.append("--" + name.replace("_", "-"))
    for name in ("steps", "measure_s", "warmup_s", "profile_at"):
        if opts.get(name) is not None:
            value = opts[name]
            text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            flags.append(f"--{name.replace('_', '-')} {text}")
    if opts.get("server") != "daphne":
        flags.append(f"--server {opts['server']}")
    return flags
