"""/api/v1/api-keys/: the secret is shown once, never listed, and revoking stops it at once."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from aybiza.core.models import ApiKey


def _client_with(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def test_created_key_is_shown_once_and_works(api, tenant):
    # when
    response = api.post("/api/v1/api-keys/", {"name": "CRM sync", "scopes": ["read"]},
                        format="json")
    # then the secret is in this response, and it authenticates as a read-only key
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["key"].startswith(f"ayb_{created['prefix']}_")
    assert created["scopes"] == ["read"]
    new_client = _client_with(created["key"])
    assert new_client.get("/api/v1/agents/").status_code == 200
    assert new_client.post("/api/v1/agents/", {"name": "X"}, format="json").status_code == 403
    # and only its hash is stored
    stored = ApiKey.objects.get(pk=created["id"])
    assert created["key"] not in {stored.key_hash, stored.prefix, stored.name}
    assert stored.tenant_id == tenant.id


def test_list_and_detail_never_show_the_secret(api):
    created = api.post("/api/v1/api-keys/", {"name": "CRM sync"}, format="json").json()
    listed = api.get("/api/v1/api-keys/").json()["results"]
    detail = api.get(f"/api/v1/api-keys/{created['id']}/").json()
    for row in [*listed, detail]:
        assert "key" not in row
        assert "key_hash" not in row
        assert created["key"] not in str(row)
    assert created["id"] in [row["id"] for row in listed]


def test_default_scopes_are_read_and_write(api):
    created = api.post("/api/v1/api-keys/", {"name": "Full"}, format="json").json()
    assert created["scopes"] == ["read", "write"]


def test_delete_revokes_immediately_and_is_idempotent(api):
    # given a working key
    created = api.post("/api/v1/api-keys/", {"name": "Temp"}, format="json").json()
    doomed = _client_with(created["key"])
    assert doomed.get("/api/v1/agents/").status_code == 200
    # when it is deleted
    assert api.delete(f"/api/v1/api-keys/{created['id']}/").status_code == 204
    # then it stops working, stays listed as revoked, and a second delete changes nothing
    assert doomed.get("/api/v1/agents/").status_code == 401
    revoked_at = api.get(f"/api/v1/api-keys/{created['id']}/").json()["revoked_at"]
    assert revoked_at is not None
    assert api.delete(f"/api/v1/api-keys/{created['id']}/").status_code == 204
    assert api.get(f"/api/v1/api-keys/{created['id']}/").json()["revoked_at"] == revoked_at


def test_last_used_at_is_recorded_without_a_write_per_request(api):
    # given a fresh key that was never used
    created = api.post("/api/v1/api-keys/", {"name": "Usage"}, format="json").json()
    assert ApiKey.objects.get(pk=created["id"]).last_used_at is None
    client = _client_with(created["key"])
    # when it is used
    client.get("/api/v1/agents/")
    # then the time is recorded
    first_use = ApiKey.objects.get(pk=created["id"]).last_used_at
    assert first_use is not None
    assert timezone.now() - first_use < timedelta(seconds=30)
    # and a second request within the minute does not write it again
    client.get("/api/v1/agents/")
    assert ApiKey.objects.get(pk=created["id"]).last_used_at == first_use
    # but one after the resolution does
    an_hour_ago = first_use - timedelta(hours=1)
    ApiKey.objects.filter(pk=created["id"]).update(last_used_at=an_hour_ago)
    client.get("/api/v1/agents/")
    assert ApiKey.objects.get(pk=created["id"]).last_used_at >= first_use


def test_invalid_key_requests_are_400_with_field_errors(api):
    for body, field in [({"name": "X", "scopes": ["admin"]}, "scopes"),
                        ({"name": "X", "scopes": []}, "scopes"),
                        ({"scopes": ["read"]}, "name"),
                        ({"name": "n" * 101}, "name")]:
        response = api.post("/api/v1/api-keys/", body, format="json")
        assert response.status_code == 400, body
        assert field in response.json()["error"]["fields"], body
    assert ApiKey.objects.count() == 1  # only the test client's own key
