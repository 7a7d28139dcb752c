"""Pytest fixtures for the wire fakes. Register once in the root conftest::

    pytest_plugins = ["tests.fakes.fixtures"]

Each fixture starts its server for one test and stops it afterwards; the servers run in their
own threads, so sync and async tests (any event loop) can use them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.bedrock import FakeBedrock
from tests.fakes.deepgram import FakeDeepgram
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def fake_deepgram() -> Iterator[FakeDeepgram]:
    with FakeDeepgram() as fake:
        yield fake


@pytest.fixture
def fake_bedrock() -> Iterator[FakeBedrock]:
    with FakeBedrock() as fake:
        yield fake


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake_twilio_rest(settings):
    """A local Twilio REST API; settings point the twilio client at it."""
    from tests.fakes.twilio_rest import FakeTwilioRest

    with FakeTwilioRest() as fake:
        for name, value in fake.settings_overrides().items():
            setattr(settings, name, value)
        yield fake
