"""Liveness and readiness, as a load balancer sees them."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_ready_when_the_database_and_redis_answer(client, settings):
    # `make test` runs a real Redis (REDIS_URL set): then it is checked too
    expected = {"database": "ok", **({"redis": "ok"} if settings.REDIS_URL else {})}
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": expected}


def test_not_ready_when_redis_does_not_answer(client, settings):
    from calls.simulator.net import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error: ConnectionError")


def test_not_ready_while_the_server_drains_its_calls(client):
    from calls.consumers import draining

    draining.set()
    try:
        response = client.get("/readyz")
    finally:
        draining.clear()
    assert response.status_code == 503 and "draining" in response.json()["checks"]["server"]
