"""Fixtures of the compliance tests: a clean cache (lockout, throttles, key cache), calls."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.core.cache import cache

from calls.models import Direction
from calls.services import call_start, turn_save


@pytest.fixture(autouse=True)
def clean_caches():
    from compliance.crypto import key_cache

    cache.clear()
    key_cache.clear()
    yield
    cache.clear()
    key_cache.clear()


@pytest.fixture
def make_call(tenant, phone_number):
    """`make_call(caller="+1...", started_at=..., words=[...])` → a finished inbound call."""
    counter = iter(range(1, 10_000))

    def make(*, caller: str = "+15557654321", started_at: datetime | None = None,
             words: list[str] = (), owner=None, direction: str = Direction.INBOUND):
        owner = owner or tenant
        number = phone_number if owner == tenant else None
        sid = f"CA{owner.pk:04d}{next(counter):028d}"
        from_number, to_number = ((caller, "+15550100000") if direction == Direction.INBOUND
                                  else ("+15550100000", caller))
        call = call_start(tenant=owner, phone_number=number, call_sid=sid,
                          from_number=from_number, to_number=to_number, direction=direction)
        if started_at is not None:
            type(call).objects.filter(pk=call.pk).update(started_at=started_at)
            call.refresh_from_db()
        for index, text in enumerate(words):
            turn_save(call=call, index=index, role="caller" if index % 2 == 0 else "agent",
                      text=text)
        return call

    return make


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def record(media_root):
    """`record(call, b"...")` stores a recording file for the call; returns its path."""
    from django.core.files.base import ContentFile

    from calls.services import call_finish

    def store(call, content: bytes = b"RIFF fake wav"):
        call_finish(call=call, outcome="caller_hung_up", recording=ContentFile(content),
                    recording_name=f"{call.call_sid}.wav")
        call.refresh_from_db()
        return media_root / call.recording.name

    return store
