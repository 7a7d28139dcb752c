"""Throwaway PostgreSQL and Redis servers for the test suite, the benchmark and integration tests.

    python -m devtools.services [--print-env] [-- command ...]

starts PostgreSQL (15, from /usr/lib/postgresql/*/bin or PATH) and Redis on free loopback ports in
a temp dir, exports DATABASE_URL and REDIS_URL to the command, runs it, tears both servers down on
every exit path and returns the command's exit code. Without a command it keeps the servers up
until Ctrl-C. When a server binary is missing it warns loudly and runs the command without that
variable, so the settings fall back to SQLite / the in-memory channel layer.

From Python::

    with postgres_server() as database_url, redis_server() as redis_url:
        ...
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import glob
import importlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from calls.simulator.net import free_port

DATABASE_NAME = "aybiza"
DATABASE_USER = "aybiza"
# PostgreSQL refuses to run as root; this system user owns the data dir when we are root.
SERVICE_USER = "aybiza-pg"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
START_ATTEMPTS = 3  # a free port can be taken by someone else between our probe and the bind
PREFERRED_POSTGRES_MAJOR = "15"  # production's version, picked first when several are installed
LOG_TAIL_LINES = 40
# PostgreSQL's "fast" shutdown: it disconnects clients instead of waiting for them (SIGTERM would).
POSTGRES_STOP_SIGNAL = signal.SIGINT


class ServiceUnavailable(RuntimeError):
    """The server's binaries are not installed on this machine."""


class ServiceFailed(RuntimeError):
    """The server is installed but did not start; the message carries its log tail."""


# --- finding binaries -------------------------------------------------------------------------


def find_postgres_bindir() -> Path | None:
    """The directory holding initdb and postgres: Debian's versioned dirs (15 first), then PATH."""
    versioned = sorted(
        (Path(path) for path in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda path: (path.parent.name == PREFERRED_POSTGRES_MAJOR, _version_key(path)),
        reverse=True,
    )
    initdb = shutil.which("initdb")
    # /usr/local/bin/initdb may be a symlink into the real bin dir, next to postgres.
    on_path = [Path(initdb).resolve().parent] if initdb else []
    for bindir in [*versioned, *on_path]:
        if all(os.access(bindir / name, os.X_OK) for name in ("initdb", "postgres")):
            return bindir
    return None


def find_redis_server() -> Path | None:
    found = shutil.which("redis-server")
    return Path(found) if found else None


def _version_key(bindir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in bindir.parent.name.split(".") if part.isdigit())


# --- process plumbing -------------------------------------------------------------------------


@dataclass(frozen=True)
class _RunAs:
    """Who the servers run as; all None means "as ourselves" (Popen's defaults)."""

    uid: int | None
    gid: int | None

    @property
    def extra_groups(self) -> list[int] | None:
        return None if self.uid is None else []  # drop root's supplementary groups too


def _service_account() -> _RunAs:
    """Root gets an unprivileged account (PostgreSQL demands one); others run as themselves."""
    if os.geteuid() != 0:
        return _RunAs(uid=None, gid=None)
    with contextlib.suppress(KeyError):
        entry = pwd.getpwnam(SERVICE_USER)
        return _RunAs(entry.pw_uid, entry.pw_gid)
    created = subprocess.run(
        ["useradd", "--system", "--user-group", "--shell=/usr/sbin/nologin", SERVICE_USER],
        capture_output=True,
        check=False,
    )
    # A parallel run may have created it between our lookup and useradd; either way, look again.
    with contextlib.suppress(KeyError):
        entry = pwd.getpwnam(SERVICE_USER)
        return _RunAs(entry.pw_uid, entry.pw_gid)
    _say(f"could not create user {SERVICE_USER} ({created.stderr.decode().strip()}); using nobody")
    entry = pwd.getpwnam("nobody")
    return _RunAs(entry.pw_uid, entry.pw_gid)


@contextlib.contextmanager
def _scratch_dir(prefix: str, run_as: _RunAs) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        if run_as.uid is not None:
            os.chown(path, run_as.uid, run_as.gid or -1)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _spawn(
    argv: list[str], log_path: Path, run_as: _RunAs, stop_signal: signal.Signals
) -> subprocess.Popen[bytes]:
    def die_with_launcher() -> None:
        # Runs in the forked child: if the launcher is SIGKILLed, the server still stops. The
        # "parent" is the spawning thread: enter the context managers where they outlive it.
        with contextlib.suppress(Exception):
            pr_set_pdeathsig = 1
            ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, stop_signal)

    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: the terminal's Ctrl-C must not kill the servers while pytest still
            # needs them to tear down; we stop them ourselves afterwards.
            start_new_session=True,
            preexec_fn=die_with_launcher,  # safe: the launcher starts no threads
            user=run_as.uid,
            group=run_as.gid,
            extra_groups=run_as.extra_groups,
        )


def _stop(process: subprocess.Popen[bytes], stop_signal: signal.Signals) -> None:
    """Stops the process, then SIGKILLs its process group if it did not exit in time.

    The group holds its children (PostgreSQL's backends, initdb's bootstrap postgres): none may
    outlive it and write into the directory we are about to delete.
    """
    if process.poll() is None and stop_signal != signal.SIGKILL:
        process.send_signal(stop_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=STOP_TIMEOUT_S)
    if process.poll() is None:  # still unreaped, so its pid cannot name another group yet
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _wait_exit(process: subprocess.Popen[bytes]) -> int:
    """Waits for a short-lived process; if we are interrupted, it does not outlive us."""
    try:
        return process.wait()
    except BaseException:
        _stop(process, signal.SIGKILL)
        raise




def _log_tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join("    " + line for line in lines[-LOG_TAIL_LINES:]) or "    (log is empty)"


def _wait_ready(
    name: str, process: subprocess.Popen[bytes], probe: Callable[[], None], log_path: Path
) -> bool:
    """True once `probe` succeeds; False if the server exited (e.g. port taken) so we may retry."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            probe()
            return True
        except Exception as error:  # any failure means "not yet"
            last_error = error
            time.sleep(0.05)
    raise ServiceFailed(
        f"{name} did not accept connections within {READY_TIMEOUT_S:.0f}s "
        f"(last error: {last_error}); log tail:\n{_log_tail(log_path)}"
    )


def _start(
    name: str,
    launch: Callable[[int], subprocess.Popen[bytes]],
    probe_port: Callable[[int], None],
    log_path: Path,
) -> tuple[subprocess.Popen[bytes], int]:
    for _ in range(START_ATTEMPTS):
        port = free_port()
        process = launch(port)
        try:
            ready = _wait_ready(name, process, lambda port=port: probe_port(port), log_path)
        except BaseException:  # timeout or Ctrl-C: never leave a server behind
            _stop(process, signal.SIGKILL)
            raise
        if ready:
            return process, port
        _stop(process, signal.SIGKILL)  # reap it, and any children it left
    raise ServiceFailed(
        f"{name} exited during startup {START_ATTEMPTS} times; log tail:\n{_log_tail(log_path)}"
    )


# --- the servers ------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_server(database: str = DATABASE_NAME) -> Iterator[str]:
    """A fresh PostgreSQL cluster on a free loopback port; yields `postgres://...` for `database`.

    Durability is switched off (fsync, synchronous_commit, full_page_writes): the data dir is
    deleted on exit anyway. Raises ServiceUnavailable if the binaries are missing.
    """
    bindir = find_postgres_bindir()
    if bindir is None:
        raise ServiceUnavailable("PostgreSQL binaries (initdb, postgres) not found")
    psycopg = _client_library("psycopg")

    run_as = _service_account()
    started = time.monotonic()
    with _scratch_dir("aybiza-pg-", run_as) as root:
        data_dir, log_path = root / "data", root / "postgres.log"
        initdb_argv = [
            str(bindir / "initdb"),
            f"--pgdata={data_dir}",
            f"--username={DATABASE_USER}",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",  # the cluster is thrown away: skip fsyncing the catalog
            "--no-instructions",
        ]
        initdb_code = _wait_exit(_spawn(initdb_argv, log_path, run_as, signal.SIGKILL))
        if initdb_code != 0:
            raise ServiceFailed(
                f"initdb exited with {initdb_code}; log tail:\n{_log_tail(log_path)}"
            )

        def launch(port: int) -> subprocess.Popen[bytes]:
            settings = {
                "port": str(port),
                "listen_addresses": "127.0.0.1",
                "unix_socket_directories": str(root),  # not /var/run/postgresql: may not exist
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
                "max_connections": "200",  # async consumers + celery eager tasks add up
            }
            flags = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
            argv = [str(bindir / "postgres"), "-D", str(data_dir), *flags]
            return _spawn(argv, log_path, run_as, POSTGRES_STOP_SIGNAL)

        def probe(port: int) -> None:
            with psycopg.connect(_postgres_url(port, "postgres"), connect_timeout=2):
                pass

        process, port = _start("PostgreSQL", launch, probe, log_path)
        try:
            with psycopg.connect(_postgres_url(port, "postgres"), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{database}"')
                row = conn.execute("SHOW server_version").fetchone()
            version = row[0] if row else "?"
            _say(f"PostgreSQL {version} ready on 127.0.0.1:{port} in {_since(started)}")
            yield _postgres_url(port, database)
        finally:
            _stop(process, POSTGRES_STOP_SIGNAL)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A fresh, non-persistent Redis on a free loopback port; yields `redis://127.0.0.1:N/0`.

    Raises ServiceUnavailable if redis-server is missing.
    """
    binary = find_redis_server()
    if binary is None:
        raise ServiceUnavailable("redis-server not found")
    redis = _client_library("redis")

    run_as = _service_account()
    started = time.monotonic()
    with _scratch_dir("aybiza-redis-", run_as) as root:
        log_path = root / "redis.log"

        def launch(port: int) -> subprocess.Popen[bytes]:
            options = {
                "port": str(port),
                "bind": "127.0.0.1",
                "dir": str(root),
                "save": "",  # no snapshots: nothing here needs to survive
                "appendonly": "no",
                "daemonize": "no",  # we keep the process handle to stop it
            }
            flags = [arg for key, value in options.items() for arg in (f"--{key}", value)]
            argv = [str(binary), *flags]
            return _spawn(argv, log_path, run_as, signal.SIGTERM)

        def probe(port: int) -> None:
            client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2)
            try:
                client.ping()
            finally:
                client.close()

        process, port = _start("Redis", launch, probe, log_path)
        try:
            _say(f"Redis ready on 127.0.0.1:{port} in {_since(started)}")
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(process, signal.SIGTERM)


def _client_library(name: str) -> ModuleType:
    """Imported lazily: the fallback path, and `.ci/run`'s lookups, run without the venv."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ServiceFailed(f"{error}; run this with the venv's python (make venv)") from error


def _postgres_url(port: int, database: str) -> str:
    return f"postgres://{DATABASE_USER}@127.0.0.1:{port}/{database}"


# --- the command line -------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"[services] {message}", file=sys.stderr, flush=True)


def _since(started: float) -> str:
    return f"{time.monotonic() - started:.2f}s"


def _warn_fallback(missing: list[str]) -> None:
    rule = "!" * 78
    lines = [
        rule,
        "!!  WARNING: the test services are NOT the production ones.",
        *(f"!!    - {reason}" for reason in missing),
        "!!  The suite falls back to SQLite and/or the in-memory channel layer and cache,",
        "!!  which hide PostgreSQL- and Redis-only behaviour. Install the binaries",
        "!!  (apt-get install postgresql-15 redis-server) or run `bash .ci/run`.",
        rule,
    ]
    print("\n".join(lines), file=sys.stderr, flush=True)


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_URL_VARIABLES = ("DATABASE_URL", "REDIS_URL")


def _run_child(command: list[str], env: dict[str, str]) -> int:
    """Runs the command, relaying termination signals, and returns a shell-style exit code."""
    try:
        child = subprocess.Popen(command, env=env)
    except OSError as error:
        _say(f"ERROR: cannot run {command[0]!r}: {error.strerror}")
        return 127 if isinstance(error, FileNotFoundError) else 126

    def relay(signum: int, _frame: object) -> None:
        # A terminal's Ctrl-C already reached the child (same foreground process group);
        # relaying it would interrupt pytest's teardown a second time.
        if signum == signal.SIGINT and _terminal_delivered_sigint():
            return
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    for sig in _STOP_SIGNALS:
        signal.signal(sig, relay)
    code = child.wait()
    return 128 - code if code < 0 else code


def _terminal_delivered_sigint() -> bool:
    try:
        return os.tcgetpgrp(sys.stdin.fileno()) == os.getpgrp()
    except (AttributeError, OSError, ValueError):  # no stdin, or not a terminal
        return False


def _wait_for_interrupt() -> int:
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            signal.pause()
    return 0


def _raise_keyboard_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _ignore_stop_signals() -> None:
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devtools.services",
        description="Run a command against throwaway PostgreSQL and Redis servers.",
    )
    parser.add_argument("--print-env", action="store_true", help="print the exported variables")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command [args...]")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    # SIGTERM/SIGHUP while starting must unwind like Ctrl-C does, so the servers are stopped.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGHUP, _raise_keyboard_interrupt)
    with contextlib.ExitStack() as stack:  # stops the servers, newest first, on every way out
        try:
            env, missing = _start_services(stack)
            if missing:
                _warn_fallback(missing)
            if args.print_env or not command:
                for variable in _URL_VARIABLES:
                    if variable in env:
                        print(f"export {variable}={env[variable]}", flush=True)
            if not command:
                _say("services up; Ctrl-C to stop")
                return _wait_for_interrupt()
            return _run_child(command, env)
        except ServiceFailed as error:
            _say(f"ERROR: {error}")
            return 1
        except KeyboardInterrupt:
            _say("interrupted")
            return 130
        finally:
            # A second Ctrl-C must not cut the teardown short and leave a server running.
            _ignore_stop_signals()


def _start_services(stack: contextlib.ExitStack) -> tuple[dict[str, str], list[str]]:
    """The child's environment with the server URLs, and why each missing server is missing."""
    env = dict(os.environ)
    missing: list[str] = []
    for variable, server, fallback in (
        ("DATABASE_URL", postgres_server, "no PostgreSQL: the suite uses SQLite"),
        ("REDIS_URL", redis_server, "no Redis: in-memory channel layer, cache and Celery"),
    ):
        try:
            env[variable] = stack.enter_context(server())
        except ServiceUnavailable as error:
            env.pop(variable, None)  # an inherited URL would point at a server we did not start
            missing.append(f"{fallback} ({error})")
    if len(missing) < len(_URL_VARIABLES):
        stack.callback(_say, "stopping services")  # runs first on the way out
    return env, missing


if __name__ == "__main__":
    sys.exit(main())
