"""Run real `celery worker` processes on the test database and Redis, for integration tests.

    with celery_worker({"CELERY_VISIBILITY_TIMEOUT_S": "5"}) as worker:
        ...                # tasks sent to the broker now run in another process
        worker.kill()      # SIGKILL, as a crash or the OOM killer would
        worker.start()     # a replacement on the same queues

Each worker shares the database pytest-django is using (tests must commit: use
`django_db(transaction=True)`) and the Redis of REDIS_URL (broker and channel layer).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.daphne_server import BASE_DIR, database_url_of_test_db

QUEUES = "tools,default"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0
LOG_TAIL_CHARS = 4000
# Runs `celery` with PR_SET_PDEATHSIG: a worker dies with the test process, even a SIGKILLed
# one. Set in the child before exec (a preexec_fn is unsafe: the test process has threads).
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(1)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'celery', *sys.argv[2:]])\n"
)


class CeleryWorker:
    """One `celery worker` at a time, each with its log. The threads pool by default (a single
    process to kill); `pool="prefork"` for what only it does (time limits). `include`: more
    modules the worker imports (`-I`), e.g. test doubles."""

    def __init__(self, extra_env: dict[str, str] | None = None, *, concurrency: int = 2,
                 ready_timeout_s: float = READY_TIMEOUT_S, pool: str = "threads",
                 include: tuple[str, ...] = ()) -> None:
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "aybiza.settings.test",
            "DATABASE_URL": database_url_of_test_db(),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            **(extra_env or {}),
        }
        self.concurrency = concurrency
        self.pool = pool
        self.include = include
        self.ready_timeout_s = ready_timeout_s
        self.started = 0  # workers started so far; names them test1@, test2@...
        self.process: subprocess.Popen[bytes] | None = None
        self.log_paths: list[Path] = []

    def start(self) -> None:
        """Start a worker and wait until it consumes its queues. Call it from a thread that
        outlives the worker (the test's own): the worker dies with the thread that started it."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("a worker is already running")
        self.started += 1
        log_path = Path(os.environ.get("TMPDIR", "/tmp")) / (
            f"aybiza-celery-{os.getpid()}-{self.started}.log")
        self.log_paths.append(log_path)
        argv = [
            sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()),
            "-A", "aybiza", "worker", "-Q", QUEUES, "--pool", self.pool,
            "--concurrency", str(self.concurrency), "-n", f"test{self.started}@%h",
            *(["-I", ",".join(self.include)] if self.include else []),
            "--loglevel", "INFO",
            # No other nodes to talk to: skip the start-up handshakes (they cost seconds).
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ]
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(argv, cwd=BASE_DIR, env=self.env,
                                            stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready(log_path)
        except BaseException:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL the worker: no warm shutdown, its unacknowledged tasks stay with the broker."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:  # unreaped: its pid still names our group
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT_S)

    def tasks_succeeded(self, name: str) -> int:
        """How many runs of task `name` the workers started so far finished (their log says)."""
        finished = re.compile(rf"Task {re.escape(name)}\[[^\]]+\] succeeded")
        return sum(len(finished.findall(_read(path, tail=None))) for path in self.log_paths)

    def log(self) -> str:
        """The logs of every worker started, oldest first (for failure messages)."""
        return "\n".join(f"--- {path.name} ---\n{_read(path)}" for path in self.log_paths)

    def close(self) -> None:
        self.kill()
        logs = self.log()
        for path in self.log_paths:
            path.unlink(missing_ok=True)
        if "Traceback" in logs:
            sys.stderr.write(f"--- celery worker logs ---\n{logs[-LOG_TAIL_CHARS:]}\n")

    def _wait_ready(self, log_path: Path) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"celery worker exited early:\n{_read(log_path)}")
            if " ready." in _read(log_path):  # "test1@host ready.": consuming its queues
                return
            time.sleep(0.1)
        raise RuntimeError(f"celery worker not ready within {self.ready_timeout_s} s:\n"
                           f"{_read(log_path)}")


@contextlib.contextmanager
def celery_worker(extra_env: dict[str, str] | None = None, **options) -> Iterator[CeleryWorker]:
    """A started worker (see `CeleryWorker`); every worker it started is killed on exit."""
    worker = CeleryWorker(extra_env, **options)
    try:
        worker.start()
        yield worker
    finally:
        worker.close()


def _read(path: Path, tail: int | None = LOG_TAIL_CHARS) -> str:
    try:
        text = path.read_text(errors="replace")
        return text if tail is None else text[-tail:]
    except OSError:
        return "(no log)"
