"""Each patch of `aybiza/server/` stands down, with one warning, when upstream code changed."""

from __future__ import annotations

import logging

import pytest
from channels.consumer import AsyncConsumer
from django.core.handlers.asgi import ASGIHandler

from aybiza.server import channels_loop, django_asgi, shapes


@pytest.fixture(autouse=True)
def fresh_checks(monkeypatch):
    monkeypatch.setenv(shapes.FAST_PATH_ENV, "true")  # whatever the run's own switch says
    shapes.patch_usable.cache_clear()
    shapes._warned.clear()
    yield
    shapes.patch_usable.cache_clear()
    shapes._warned.clear()


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "aybiza.server" and r.levelno == logging.WARNING]


def test_the_pinned_versions_get_the_patches(caplog):
    assert channels_loop.lean_loop_enabled()
    assert type(django_asgi.asgi_handler()) is django_asgi.CycleFreeASGIHandler
    assert _warnings(caplog) == []


def test_a_channels_upgrade_that_moved_dispatch_gets_channels_own_loop(monkeypatch, caplog):
    async def dispatch(self, message):  # an upgraded Channels: no stale-connection hop here
        await getattr(self, message["type"].replace(".", "_"))(message)

    monkeypatch.setattr(AsyncConsumer, "dispatch", dispatch)

    assert channels_loop.lean_loop_enabled() is False
    assert channels_loop.lean_loop_enabled() is False
    (warning,) = _warnings(caplog)
    assert "Channels consumer loop" in warning and "aclose_old_connections" in warning


def test_a_django_whose_handler_was_rewritten_gets_its_own_listener(monkeypatch, caplog):
    async def handle(self, scope, receive, send):  # e.g. Django 6.1's TaskGroup version
        return None

    monkeypatch.setattr(ASGIHandler, "handle", handle)

    assert type(django_asgi.asgi_handler()) is ASGIHandler
    (warning,) = _warnings(caplog)
    assert "FIRST_COMPLETED" in warning


@pytest.mark.parametrize("value", ["false", "0"])
def test_the_switch_turns_every_patch_off_without_a_warning(monkeypatch, caplog, value):
    monkeypatch.setenv(shapes.FAST_PATH_ENV, value)

    assert channels_loop.lean_loop_enabled() is False
    assert type(django_asgi.asgi_handler()) is ASGIHandler
    assert _warnings(caplog) == []
