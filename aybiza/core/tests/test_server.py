"""`python -m aybiza.server`: daphne with uvloop under Twisted, or without it when told."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest

from aybiza.server import launcher
from tests.daphne_server import UPGRADED_LIBRARIES, launched_server


@pytest.fixture
def default_policy():
    yield
    asyncio.set_event_loop_policy(None)


@pytest.mark.parametrize("value", ["false", "0", "off"])
def test_uvloop_can_be_turned_off(monkeypatch, default_policy, value):
    monkeypatch.setenv("AYBIZA_UVLOOP", value)
    assert launcher.install_uvloop() is False
    assert "uvloop" not in type(asyncio.get_event_loop_policy()).__module__


def test_daphne_reactor_runs_on_uvloop():
    # The reactor is built when daphne.server is imported: in a fresh interpreter, after the
    # policy is set, Twisted's reactor must sit on a uvloop loop.
    probe = ("from aybiza.server import launcher; assert launcher.install_uvloop();"
             "import daphne.server; from twisted.internet import reactor;"
             "print(type(reactor._asyncioEventloop).__module__)")
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=60)
    assert output.stdout.strip() == "uvloop"


@pytest.mark.parametrize("fast_path", ["true", "false"])
def test_the_launcher_serves_on_uvloop_with_a_frozen_startup_heap(tmp_path, fast_path):
    # The bench's stats endpoint reports, from inside the server, its loop and frozen objects.
    env = {"DJANGO_SETTINGS_MODULE": "aybiza.settings.dev", "AYBIZA_VAR_DIR": str(tmp_path),
           "AYBIZA_SERVER_FAST_PATH": fast_path}
    with launched_server("calls.bench.asgi:application", env) as port:
        stats = httpx.get(f"http://127.0.0.1:{port}/_bench/pacer", timeout=30).json()
    assert stats["loop"] == "uvloop.Loop"
    assert (stats["gc_frozen"] > 10_000) is (fast_path == "true")


def test_every_patch_finds_the_upstream_code_it_was_written_for():
    # Fails after an upgrade of a pinned server library that moved what a patch relies on:
    # production would then run the standard path (with a warning), so update aybiza/server/.
    assert launcher.upstream_problems() == []


def test_the_launcher_with_upgraded_libraries_warns_once_and_serves_the_standard_path(tmp_path):
    env = {"DJANGO_SETTINGS_MODULE": "aybiza.settings.dev", "AYBIZA_VAR_DIR": str(tmp_path),
           "AYBIZA_SERVER_FAST_PATH": "true"}
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log, launched_server(
            "calls.bench.asgi:application", env, launcher=UPGRADED_LIBRARIES,
            output=log) as port:
        stats = httpx.get(f"http://127.0.0.1:{port}/_bench/pacer", timeout=30).json()
    output = log_path.read_text()
    assert output.count("AYBIZA server fast path") == 1, output
    assert "channels AsyncConsumer.__call__" in output
    assert "daphne WebSocketProtocol.onMessage" in output
    assert stats["gc_frozen"] < 10_000  # plain daphne: none of the launcher's patches


def test_shutdown_hooks_run_and_are_awaited_when_the_server_is_stopped(tmp_path):
    # given a hook that needs the loop for a moment (as draining calls would)
    marker = tmp_path / "drained"
    code = (f"import asyncio, pathlib\nfrom aybiza.server import launcher\n"
            f"async def drain():\n    await asyncio.sleep(0.2)\n"
            f"    pathlib.Path({str(marker)!r}).write_text('drained')\n"
            f"launcher.add_shutdown_hook(drain)\nlauncher.main()\n")
    # when the server gets SIGTERM (launched_server stops it so)
    with launched_server("tests.ws_echo_app:application", {}, launcher=["-c", code]):
        pass
    # then the hook ran to its end before the process exited
    assert marker.read_text() == "drained"
