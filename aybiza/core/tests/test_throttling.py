"""Requests are throttled per API key (per member, per IP when anonymous)."""

from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture
def rate(settings):
    """`rate("3/min")` sets the API throttle for this test, starting from an empty history."""

    def set_rate(value: str) -> None:
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK,
                                   "DEFAULT_THROTTLE_RATES": {"api_key": value}}
        cache.clear()

    yield set_rate
    cache.clear()


def test_a_key_over_its_rate_gets_429_in_the_error_shape(rate, api):
    # given a rate of three requests a minute
    rate("3/min")
    # when one key makes four requests
    statuses = [api.get("/api/v1/agents/").status_code for _ in range(4)]
    # then the fourth is refused, says when to retry, and uses the one error shape
    assert statuses == [200, 200, 200, 429]
    refused = api.get("/api/v1/agents/")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0


def test_each_key_has_its_own_budget(rate, api_client_for, tenant):
    # given two keys of the same tenant and a rate of two a minute
    rate("2/min")
    first, second = api_client_for(tenant), api_client_for(tenant)
    # when the first key spends its budget
    for _ in range(2):
        assert first.get("/api/v1/agents/").status_code == 200
    # then it is throttled while the second key is not
    assert first.get("/api/v1/agents/").status_code == 429
    assert second.get("/api/v1/agents/").status_code == 200


def test_anonymous_callers_are_throttled_by_address(rate, client):
    # given the public schema endpoint and a rate of one a minute
    rate("1/min")
    # when one address asks twice
    first, second = client.get("/api/schema/"), client.get("/api/schema/")
    # then
    assert first.status_code == 200
    assert second.status_code == 429


def test_the_configured_rate_is_read_at_request_time(rate, api):
    # given a generous rate, then a strict one set later in the same process
    rate("100/min")
    assert all(api.get("/api/v1/agents/").status_code == 200 for _ in range(5))
    rate("1/min")
    # then the new rate applies at once (DRF alone would keep the rate it imported)
    assert api.get("/api/v1/agents/").status_code == 200
    assert api.get("/api/v1/agents/").status_code == 429
