"""`python -m aybiza.server`: daphne with uvloop under Twisted, or without it when told."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from aybiza import server


@pytest.fixture
def default_policy():
    yield
    asyncio.set_event_loop_policy(None)


@pytest.mark.parametrize("value", ["false", "0", "off"])
def test_uvloop_can_be_turned_off(monkeypatch, default_policy, value):
    monkeypatch.setenv("AYBIZA_UVLOOP", value)
    assert server.install_uvloop() is False
    assert "uvloop" not in type(asyncio.get_event_loop_policy()).__module__


def test_daphne_reactor_runs_on_uvloop():
    # The reactor is built when daphne.server is imported: in a fresh interpreter, after the
    # policy is set, Twisted's reactor must sit on a uvloop loop.
    probe = ("from aybiza import server; assert server.install_uvloop();"
             "import daphne.server; from twisted.internet import reactor;"
             "print(type(reactor._asyncioEventloop).__module__)")
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, timeout=60)
    assert output.stdout.strip() == "uvloop"
