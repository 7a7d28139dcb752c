"""Run the real ASGI server (daphne) as a subprocess on the test database, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from django.db import connection

from calls.simulator.net import free_port

BASE_DIR = Path(__file__).resolve().parent.parent
LAUNCHER = ["-m", "aybiza.server"]

# `python -c` code that makes this interpreter look like one with newer Channels and daphne
# whose internals moved (the functions the fast path relies on have another body), then runs
# the launcher: the server must warn once and serve through the standard path.
UPGRADED_LIBRARIES = ["-c", """
import channels.consumer, daphne.ws_protocol
stock_call = channels.consumer.AsyncConsumer.__call__
async def upgraded_call(self, scope, receive, send):
    return await stock_call(self, scope, receive, send)
channels.consumer.AsyncConsumer.__call__ = upgraded_call
stock_on_message = daphne.ws_protocol.WebSocketProtocol.onMessage
def upgraded_on_message(self, payload, isBinary, *extra):
    return stock_on_message(self, payload, isBinary)
daphne.ws_protocol.WebSocketProtocol.onMessage = upgraded_on_message
from aybiza.server.launcher import main
main()
"""]


def database_url_of_test_db() -> str:
    """A URL for the database pytest-django is using right now (a daphne child shares it)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


@contextlib.contextmanager
def daphne_server(extra_env: dict[str, str] | None = None, timeout_s: float = 30.0,
                  launcher: list[str] = LAUNCHER,
                  log_lines: list[str] | None = None,
                  processes: list[subprocess.Popen] | None = None) -> Iterator[str]:
    """Start daphne on a free port; yields its base URL (also its PUBLIC_BASE_URL). The
    server's output is appended to `log_lines` when it has stopped; its process is appended to
    `processes` (for a test that signals it)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "aybiza.settings.test",
        "DATABASE_URL": database_url_of_test_db(),
        "PUBLIC_BASE_URL": base_url,
        "CELERY_TASK_ALWAYS_EAGER": os.environ.get("CELERY_TASK_ALWAYS_EAGER", "true"),
        **(extra_env or {}),
    }
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"aybiza-daphne-{port}.log"
    with open(log_path, "w+") as log:
        process = subprocess.Popen(
            [sys.executable, *launcher, "-b", "127.0.0.1", "-p", str(port),
             "aybiza.asgi:application"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
        if processes is not None:
            processes.append(process)
        try:
            _wait_ready(process, base_url, log_path, timeout_s)
            yield base_url
        finally:
            _stop(process)
            server_log = log_path.read_text()
            log_path.unlink(missing_ok=True)
            if log_lines is not None:
                log_lines.extend(server_log.splitlines())
            if "Traceback" in server_log:
                sys.stderr.write(f"--- daphne log ---\n{server_log[-6000:]}\n")


@contextlib.contextmanager
def launched_server(app: str, env: dict[str, str], timeout_s: float = 60.0,
                    launcher: list[str] = LAUNCHER, output=subprocess.DEVNULL) -> Iterator[int]:
    """`python -m aybiza.server` serving the ASGI `app` on a free port, without the test
    database; yields the port once it accepts connections. `output`: a file for its output."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, *launcher, "-b", "127.0.0.1", "-p", str(port), app],
        cwd=BASE_DIR, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"the server for {app} did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_ready(process: subprocess.Popen, base_url: str, log_path: Path,
                timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited early:\n{log_path.read_text()[-4000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(base_url + "/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"daphne did not answer within {timeout_s} s:\n"
                       f"{log_path.read_text()[-4000:]}")
