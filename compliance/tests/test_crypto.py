from __future__ import annotations

import base64
import os
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from aybiza.settings import compliance as compliance_settings
from compliance import crypto, keywrap
from compliance.checks import master_key_check
from compliance.crypto import (
    DecryptionFailed,
    decrypt_for_tenant,
    decrypt_text_for_tenant,
    encrypt_for_tenant,
    encrypt_text_for_tenant,
    key_cache,
)
from compliance.keywrap import KeyUnavailable
from compliance.models import AuditEvent, TenantDataKey

SECRET = b"caller said: my card is 4111 1111 1111 1111"


def _new_master_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_a_payload_round_trips_and_is_unreadable_at_rest(tenant):
    # when a tenant's first payload is encrypted
    blob = encrypt_for_tenant(tenant, SECRET, context="recording:CA1")

    # then it decrypts, hides the plaintext, and carries key version 1 in its header
    assert decrypt_for_tenant(tenant, blob, context="recording:CA1") == SECRET
    assert SECRET not in blob and b"4111" not in blob
    assert blob[:3] == b"AYB" and int.from_bytes(blob[4:8], "big") == 1
    key = TenantDataKey.objects.get(tenant=tenant)
    assert (key.version, key.wrapped_by, key.active) == (1, "local", True)
    assert AuditEvent.objects.filter(action="crypto.data_key_created", tenant_id=tenant.pk)


def test_two_encryptions_of_the_same_text_differ(tenant):
    assert (encrypt_for_tenant(tenant, SECRET, context="c")
            != encrypt_for_tenant(tenant, SECRET, context="c"))


def test_a_blob_does_not_decrypt_in_another_context_or_tenant(tenant, other_tenant):
    blob = encrypt_for_tenant(tenant, SECRET, context="recording:CA1")

    with pytest.raises(DecryptionFailed):
        decrypt_for_tenant(tenant, blob, context="recording:CA2")
    with pytest.raises(DecryptionFailed):
        decrypt_for_tenant(other_tenant, blob, context="recording:CA1")


def test_a_tampered_blob_is_refused(tenant):
    blob = bytearray(encrypt_for_tenant(tenant, SECRET, context="c"))
    blob[-1] ^= 1

    with pytest.raises(DecryptionFailed):
        decrypt_for_tenant(tenant, bytes(blob), context="c")
    with pytest.raises(DecryptionFailed):
        decrypt_for_tenant(tenant, b"not a ciphertext at all, really", context="c")


def test_text_helpers_round_trip(tenant):
    token = encrypt_text_for_tenant(tenant, "Biscuit is sick", context="turn:1")

    assert "Biscuit" not in token
    assert decrypt_text_for_tenant(tenant, token, context="turn:1") == "Biscuit is sick"


def test_a_new_data_key_encrypts_new_data_while_old_data_still_decrypts(tenant):
    # given data under version 1
    old = encrypt_for_tenant(tenant, b"old", context="c")

    # when rotating with a new data key
    call_command("rotate_keys", "--tenant", tenant.slug, "--new-data-key", stdout=StringIO())
    key_cache.clear()
    new = encrypt_for_tenant(tenant, b"new", context="c")

    # then new data uses version 2 and both decrypt
    assert int.from_bytes(new[4:8], "big") == 2
    assert decrypt_for_tenant(tenant, old, context="c") == b"old"
    assert decrypt_for_tenant(tenant, new, context="c") == b"new"
    assert list(TenantDataKey.objects.filter(tenant=tenant).values_list("version", "active")) \
        == [(2, True), (1, False)]


def test_changing_the_master_key_needs_a_rewrap(tenant, settings):
    # given data under a key wrapped by master key A
    settings.AYBIZA_MASTER_KEY = master_a = _new_master_key()
    blob = encrypt_for_tenant(tenant, SECRET, context="c")

    # when the master key becomes B, A is unknown: the data key cannot be unwrapped
    settings.AYBIZA_MASTER_KEY = _new_master_key()
    key_cache.clear()
    with pytest.raises(KeyUnavailable):
        decrypt_for_tenant(tenant, blob, context="c")

    # when A is listed as previous and the keys are re-wrapped, A can go
    settings.AYBIZA_PREVIOUS_MASTER_KEYS = [master_a]
    call_command("rotate_keys", stdout=StringIO())
    settings.AYBIZA_PREVIOUS_MASTER_KEYS = []
    key_cache.clear()

    # then the data decrypts under B alone
    assert decrypt_for_tenant(tenant, blob, context="c") == SECRET
    row = TenantDataKey.objects.get(tenant=tenant)
    assert row.wrapping_key_id == keywrap.master_key_id(
        base64.b64decode(settings.AYBIZA_MASTER_KEY))


@pytest.fixture
def kms(monkeypatch, settings):
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    keywrap.kms_client.cache_clear()
    with mock_aws():
        import boto3

        client = boto3.client("kms", region_name="us-east-1")
        settings.KMS_REGION = "us-east-1"
        settings.KMS_ENDPOINT_URL = ""
        yield client
    keywrap.kms_client.cache_clear()


def test_kms_generates_and_unwraps_data_keys(tenant, kms, settings):
    # given KMS configured
    settings.KMS_KEY_ID = kms.create_key()["KeyMetadata"]["KeyId"]

    # when a payload is encrypted, and decrypted with a cold cache
    blob = encrypt_for_tenant(tenant, SECRET, context="c")
    key_cache.clear()

    # then the data key came from KMS and KMS unwraps it
    assert decrypt_for_tenant(tenant, blob, context="c") == SECRET
    row = TenantDataKey.objects.get(tenant=tenant)
    assert row.wrapped_by == "kms" and settings.KMS_KEY_ID in row.wrapping_key_id


def test_rotate_keys_moves_local_keys_under_kms(tenant, kms, settings):
    # given a key wrapped locally
    blob = encrypt_for_tenant(tenant, SECRET, context="c")

    # when KMS is configured and keys are rotated
    settings.KMS_KEY_ID = kms.create_key()["KeyMetadata"]["KeyId"]
    call_command("rotate_keys", stdout=StringIO())
    key_cache.clear()

    # then KMS wraps it and the old data decrypts
    assert TenantDataKey.objects.get(tenant=tenant).wrapped_by == "kms"
    assert decrypt_for_tenant(tenant, blob, context="c") == SECRET


def test_committed_keys_are_cached_per_process(tenant, django_capture_on_commit_callbacks,
                                               django_assert_num_queries):
    with django_capture_on_commit_callbacks(execute=True):
        blob = encrypt_for_tenant(tenant, SECRET, context="c")

    with django_assert_num_queries(0):
        assert decrypt_for_tenant(tenant, blob, context="c") == SECRET
        encrypt_for_tenant(tenant, SECRET, context="c")


def test_the_key_cache_is_bounded_and_expires(settings, monkeypatch):
    settings.DATA_KEY_CACHE_SIZE = 2
    settings.DATA_KEY_CACHE_TTL_S = 60
    cache = crypto._KeyCache()
    for n in range(3):
        cache.put((n, 1), b"k")
    assert cache.get((0, 1)) is None and cache.get((2, 1)) == b"k"

    now = crypto.time.monotonic()
    monkeypatch.setattr(crypto.time, "monotonic", lambda: now + 61)
    assert cache.get((2, 1)) is None


def test_production_refuses_the_development_master_key(monkeypatch):
    monkeypatch.setattr(compliance_settings, "KMS_KEY_ID", "")
    monkeypatch.setattr(compliance_settings, "AYBIZA_MASTER_KEY",
                        compliance_settings.DEV_MASTER_KEY)
    with pytest.raises(ImproperlyConfigured):
        compliance_settings.require_production_keys()

    monkeypatch.setattr(compliance_settings, "AYBIZA_MASTER_KEY", _new_master_key())
    compliance_settings.require_production_keys()


def test_the_deploy_check_flags_the_development_key(settings):
    settings.DEBUG = False
    settings.KMS_KEY_ID = ""
    settings.AYBIZA_MASTER_KEY = compliance_settings.DEV_MASTER_KEY
    assert [m.id for m in master_key_check(None)] == ["compliance.E001"]

    settings.AYBIZA_MASTER_KEY = _new_master_key()
    assert master_key_check(None) == []
