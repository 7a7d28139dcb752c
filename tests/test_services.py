"""The suite really runs against the servers `python -m devtools.services` started for it."""

from __future__ import annotations

import os

import pytest
from pytest_django import DjangoDbBlocker

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")

needs_postgres = pytest.mark.skipif(
    not DATABASE_URL,
    reason="DATABASE_URL unset (not run by devtools.services, or no PostgreSQL): SQLite in use",
)
needs_redis = pytest.mark.skipif(
    not REDIS_URL,
    reason="REDIS_URL unset (not run by devtools.services, or no redis-server): in-memory layer",
)


@needs_postgres
def test_postgres_server_is_version_15() -> None:
    import psycopg

    with psycopg.connect(DATABASE_URL) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()

    assert row is not None
    assert int(row[0]) // 10000 == 15, f"production runs PostgreSQL 15, got {row[0]}"


@needs_postgres
def test_django_talks_to_that_postgres(django_db_blocker: DjangoDbBlocker) -> None:
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT inet_server_port()")
        (port,) = cursor.fetchone()

    assert connection.vendor == "postgresql"
    assert f"@127.0.0.1:{port}/" in DATABASE_URL


@needs_redis
def test_redis_server_answers_and_forgets_nothing_it_was_told() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.set("aybiza:smoke", "hello", ex=30)
        major = int(str(client.info("server")["redis_version"]).split(".")[0])
        stored = client.get("aybiza:smoke")
    finally:
        client.close()

    assert stored == b"hello"
    assert major >= 6, "channels-redis and Celery need Redis 6 or newer"


@needs_redis
@pytest.mark.asyncio
async def test_django_channel_layer_and_cache_go_through_that_redis() -> None:
    from channels.layers import get_channel_layer
    from django.core.cache import caches

    layer, cache = get_channel_layer(), caches["default"]
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "smoke.ping"})
    received = await layer.receive(channel)
    await cache.aset("aybiza:smoke", "cached", timeout=30)

    assert received == {"type": "smoke.ping"}
    assert await cache.aget("aybiza:smoke") == "cached"
    assert type(layer).__module__.startswith("channels_redis.")
    assert "django.core.cache.backends.redis" in type(cache).__module__
