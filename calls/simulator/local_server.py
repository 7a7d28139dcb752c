"""A real AYBIZA server (daphne, `python -m aybiza.server`) on a local port, for the demo and the
quality evaluation: started with this process's settings, ready when its offline speech models
are loaded, stopped when the block ends."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.conf import settings

READY_TIMEOUT_S = 60.0


class ServerFailed(RuntimeError):
    """The server exited or never became ready; the message holds the end of its stderr."""


@contextmanager
def local_server(port: int, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen]:
    """daphne on 127.0.0.1:`port` signing over that address; yields the process once ready.
    `env`: more settings for the server (e.g. Twilio's REST API pointed at the simulator)."""
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PUBLIC_BASE_URL": base_url, "OFFLINE_SPEECH_WARMUP": "true",
           "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE",
                                                    "aybiza.settings.dev"), **(env or {})}
    server = subprocess.Popen(
        [sys.executable, "-m", "aybiza.server", "-b", "127.0.0.1", "-p", str(port),
         "aybiza.asgi:application"],
        cwd=Path(settings.BASE_DIR), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    try:
        _wait_ready(server, base_url)
        yield server
    finally:
        server.terminate()
        try:
            _, errors = server.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            _, errors = server.communicate()
        if server.returncode not in (0, -15, None) and errors:
            sys.stderr.write(errors[-2000:])


def _wait_ready(server: subprocess.Popen, base_url: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise ServerFailed(f"daphne exited: {server.stderr.read()[-2000:]}")
        try:
            health = httpx.get(base_url + "/healthz", timeout=1)
            # Up, and the offline speech models loaded (so the first turn isn't slower).
            if health.status_code == 200 and health.json().get("speech_ready", True):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise ServerFailed(f"daphne did not come up within {READY_TIMEOUT_S:g} s.")
