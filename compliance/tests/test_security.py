from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.test import Client, RequestFactory
from twilio.request_validator import RequestValidator

from compliance.models import PLATFORM_CHAIN, AuditEvent, RetentionPolicy, chain_for
from compliance.services.audit import audit_record, throttle_keys

BACKEND = "compliance.auth.LockoutModelBackend"


def _platform(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(chain=PLATFORM_CHAIN, action=action))


def test_logins_are_audited(owner):
    assert Client().login(username="owner", password="pw-owner-123")

    [event] = _platform("auth.login")
    assert event.actor == f"user:{owner.pk}:owner"


def test_failed_logins_name_accounts_but_not_whatever_was_typed(owner):
    Client().login(username="owner", password="wrong")
    Client().login(username="hunter2-oops", password="wrong")

    known, unknown = (e.payload["username"] for e in _platform("security.auth.login_failed"))
    assert known["name"] == "owner"
    assert "name" not in unknown and "hunter2" not in str(unknown)


@pytest.fixture
def lockout(settings):
    settings.AUTHENTICATION_BACKENDS = [BACKEND]
    settings.LOGIN_LOCKOUT_ATTEMPTS = 3
    settings.LOGIN_LOCKOUT_WINDOW_S = 600


def _login(password: str, ip: str = "203.0.113.7"):
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR=ip)
    return authenticate(request, username="owner", password=password)


def test_repeated_failures_lock_the_username_from_that_ip(owner, lockout):
    # given three failures from one IP
    for _ in range(3):
        assert _login("wrong") is None

    # then the right password is refused from that IP, but not from another
    assert _login("pw-owner-123") is None
    assert _login("pw-owner-123", ip="198.51.100.1") == owner
    assert len(_platform("security.auth.locked_out")) == 1


def _login_via(password: str, *, peer: str, forwarded: str | None = None, username="owner"):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR=peer, **extra)
    return authenticate(request, username=username, password=password)


def test_rotating_addresses_runs_into_the_account_lock(owner, lockout, settings):
    # given an attacker who sends each guess from a new address
    settings.LOGIN_LOCKOUT_ACCOUNT_ATTEMPTS = 6
    for guess in range(6):
        assert _login_via("wrong", peer=f"198.51.100.{guess + 1}") is None

    # then the account is locked from any address, even a fresh one with the right password
    assert _login_via("pw-owner-123", peer="192.0.2.200") is None
    assert len(_platform("security.auth.locked_out")) == 1  # the account's lock


def test_forged_forwarded_for_from_an_untrusted_peer_is_ignored(owner, lockout, settings):
    # given no trusted proxy and an attacker rotating X-Forwarded-For from one address
    settings.TRUSTED_PROXIES = []
    for guess in range(3):
        _login_via("wrong", peer="203.0.113.7", forwarded=f"10.9.8.{guess}")

    # then the guesses all count against that address, which is locked
    assert _login_via("pw-owner-123", peer="203.0.113.7", forwarded="10.9.8.77") is None
    assert _login_via("pw-owner-123", peer="198.51.100.9") == owner


def test_behind_a_trusted_proxy_the_client_is_the_address_the_proxy_saw(settings):
    from compliance.lockout import client_ip

    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    factory = RequestFactory()

    def ip(peer: str, forwarded: str) -> str:
        return client_ip(factory.get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded))

    # what the client wrote on the left is never believed; the proxy appended the real one
    assert ip("10.0.0.5", "1.2.3.4, 203.0.113.9") == "203.0.113.9"
    assert ip("10.0.0.5", "203.0.113.9, 10.0.0.6") == "203.0.113.9"  # two proxies
    assert ip("10.0.0.5", "not-an-ip") == "10.0.0.5"
    assert ip("203.0.113.50", "10.0.0.5") == "203.0.113.50"  # not from a proxy: the peer


def test_the_server_is_not_started_with_proxy_headers():
    # daphne's --proxy-headers rewrites the client address from X-Forwarded-For sent by anyone;
    # client_ip() believes the header only from TRUSTED_PROXIES.
    base = Path(settings.BASE_DIR)
    for name in ("Procfile", "README.md", "docs/scaling.md"):
        commands = [line for line in (base / name).read_text().splitlines()
                    if "aybiza.asgi:application" in line]
        assert not [line for line in commands if "--proxy-headers" in line], name


def test_a_successful_login_resets_the_count(owner, lockout):
    for _ in range(2):
        _login("wrong")
    assert _login("pw-owner-123") == owner
    for _ in range(2):
        _login("wrong")

    assert _login("pw-owner-123") == owner


def test_the_admin_login_page_refuses_a_locked_account(owner, lockout, django_user_model):
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(3):
        client.post("/admin/login/", {"username": "owner", "password": "wrong"})

    response = client.post("/admin/login/", {"username": "owner", "password": "pw-owner-123"})

    assert response.status_code == 200  # the form again, not a redirect into the admin
    assert "_auth_user_id" not in client.session


def test_admin_actions_are_audited_on_the_tenants_chain(tenant, owner):
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client = Client()
    client.force_login(owner)

    response = client.post("/admin/compliance/retentionpolicy/add/",
                           {"tenant": tenant.pk, "calls_days": 365})

    assert response.status_code == 302
    event = AuditEvent.objects.get(chain=chain_for(tenant.pk), action="admin.added")
    policy = RetentionPolicy.objects.get(tenant=tenant)
    assert event.payload == {"model": "compliance.retentionpolicy", "object_id": str(policy.pk)}
    assert event.actor == f"user:{owner.pk}:owner"


def test_the_admin_cannot_delete_or_edit_audit_events(tenant, owner):
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client = Client()
    client.force_login(owner)
    event = audit_record(tenant=tenant, action="test.event")

    delete = client.post(f"/admin/compliance/auditevent/{event.pk}/delete/", {"post": "yes"})
    change = client.post(f"/admin/compliance/auditevent/{event.pk}/change/", {"action": "x"})

    assert delete.status_code == change.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk, action=event.action).exists()


def _twilio_post(client: Client, signature: str = "forged"):
    params = {"CallSid": "CA00000000000000000000000000000001", "From": "+15557654321",
              "To": "+15550100000"}
    return client.post("/twilio/voice/", params, HTTP_X_TWILIO_SIGNATURE=signature), params


def test_rejected_twilio_signatures_are_security_events_without_floods(db):
    client = Client()
    for _ in range(3):
        assert _twilio_post(client)[0].status_code == 403
    assert len(_platform("security.twilio.signature_rejected")) == 1

    # when the throttle window ends, the next row tells how many were not written
    cache.delete(throttle_keys("twilio.signature_rejected", {"path": "/twilio/voice/"})[0])
    _twilio_post(client)

    rows = _platform("security.twilio.signature_rejected")
    assert [r.payload for r in rows] == [{"path": "/twilio/voice/"},
                                         {"path": "/twilio/voice/", "suppressed": 2}]


@pytest.mark.parametrize("path", ["/twilio/status/", "/twilio/stream-status/",
                                  "/twilio/transfer/brief/", "/twilio/transfer/status/",
                                  "/twilio/transfer/conference/"])
def test_every_twilio_webhook_rejects_a_forged_signature_the_same_way(db, path):
    response = Client().post(path, {"CallSid": "CA1"}, HTTP_X_TWILIO_SIGNATURE="forged")

    assert response.status_code == 403
    assert [r.payload for r in _platform("security.twilio.signature_rejected")] == [
        {"path": path}]


def test_logs_hold_no_secrets(api, caplog):
    caplog.set_level(logging.DEBUG)

    # when a key is created over the API and a forged Twilio request is rejected
    created = api.post("/api/v1/api-keys/", {"name": "ci"}).json()
    response, params = _twilio_post(Client())
    expected_signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(
        settings.PUBLIC_BASE_URL + "/twilio/voice/", params)

    # then the logs say what happened without any secret
    assert response.status_code == 403
    assert "Rejected Twilio request" in caplog.text
    from aybiza.core.services import hash_api_key

    # The key is "ayb_<prefix>_<secret>", and the secret itself may hold "_": split twice only
    # (splitting on every "_" could leave a one-letter tail that any log line contains).
    for secret in (created["key"], created["key"].split("_", 2)[-1], hash_api_key(created["key"]),
                   settings.TWILIO_AUTH_TOKEN, expected_signature, settings.SECRET_KEY):
        assert secret not in caplog.text


def test_a_trusted_proxy_that_is_no_address_fails_the_system_check(settings):
    from compliance.checks import trusted_proxies_check

    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "proxy.internal"]

    [error] = trusted_proxies_check(None)

    assert error.id == "compliance.E002" and "proxy.internal" in error.msg
