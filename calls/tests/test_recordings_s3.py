"""Recordings on S3 with SSE-KMS, against moto's S3 and KMS served over HTTP (boto3 and
django-storages as the clients, as in production): a key per tenant, presigned playback links,
objects deleted by retention and by a data subject's erasure."""

from __future__ import annotations

import io
import socket
import wave
from datetime import timedelta

import boto3
import httpx
import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from calls.models import Call, Direction
from calls.recording_s3 import TenantKeyS3Storage
from calls.recordings import recording_audio, recording_link
from calls.services import call_finish, call_start
from compliance.recording_keys import RecordingKeyUnavailable, forget_cached_keys
from compliance.services import retention_enforce, retention_policy_set, subject_erase

BUCKET = "aybiza-recordings-test"
REGION = "us-east-1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def aws_endpoint():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(aws_endpoint, monkeypatch, settings):
    # Fresh state per test: moto's server resets on this call.
    httpx.post(f"{aws_endpoint}/moto-api/reset")
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(name, value)
    settings.KMS_REGION, settings.KMS_ENDPOINT_URL = REGION, aws_endpoint
    forget_cached_keys()
    client = boto3.client("s3", region_name=REGION, endpoint_url=aws_endpoint)
    client.create_bucket(Bucket=BUCKET)
    storage = TenantKeyS3Storage(bucket_name=BUCKET, region_name=REGION,
                                 endpoint_url=aws_endpoint)
    # Call.recording resolved its storage when the model loaded: point it at the bucket.
    monkeypatch.setattr(Call._meta.get_field("recording"), "storage", storage)
    yield client
    forget_cached_keys()


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(2)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(bytes(range(256)) * 50)
    return buffer.getvalue()


def _recorded_call(tenant, sid_digit: str, caller: str = "+15557654321") -> Call:
    call = call_start(tenant=tenant, phone_number=None, call_sid="CA" + sid_digit * 32,
                      from_number=caller, to_number="+15550100000",
                      direction=Direction.INBOUND)
    call_finish(call=call, outcome="caller_hung_up", recording=ContentFile(_wav()))
    call.refresh_from_db()
    return call


def _keys(s3) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_each_tenants_recordings_are_encrypted_under_its_own_kms_key(s3, tenant, other_tenant,
                                                                   aws_endpoint):
    # given a recorded call in each tenant
    mine, theirs = _recorded_call(tenant, "1"), _recorded_call(other_tenant, "2")
    # then each object is SSE-KMS, under a different key: the key its tenant's alias names
    kms = boto3.client("kms", region_name=REGION, endpoint_url=aws_endpoint)
    used = []
    for call in (mine, theirs):
        assert not call.recording.name.endswith(".enc")  # S3 encrypts; we do not seal twice
        head = s3.head_object(Bucket=BUCKET, Key=call.recording.name)
        assert head["ServerSideEncryption"] == "aws:kms"
        alias = f"alias/aybiza-recordings-tenant-{call.tenant_id}"
        assert head["SSEKMSKeyId"] == kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
        tags = kms.list_resource_tags(KeyId=head["SSEKMSKeyId"])["Tags"]
        assert {"TagKey": "aybiza_tenant", "TagValue": str(call.tenant_id)} in tags
        used.append(head["SSEKMSKeyId"])
    assert used[0] != used[1]
    # a second recording of the same tenant reuses its key
    again = _recorded_call(tenant, "3")
    assert s3.head_object(Bucket=BUCKET, Key=again.recording.name)["SSEKMSKeyId"] == used[0]
    # and the audio reads back whole
    assert recording_audio(call=mine) == _wav()


def test_playback_is_a_short_lived_presigned_link(s3, tenant):
    call = _recorded_call(tenant, "4")
    link = recording_link(call=call, ttl_s=120)
    # a SigV4 presigned GET on the bucket, valid for 120 s, that plays as audio
    assert link.url.startswith(s3.meta.endpoint_url) and "X-Amz-Signature=" in link.url
    assert "X-Amz-Expires=120" in link.url and link.expires_at > timezone.now()
    response = httpx.get(link.url)
    assert response.status_code == 200 and response.content == _wav()
    assert response.headers["content-type"] == "audio/wav"


def test_retention_and_erasure_delete_the_objects(s3, tenant, django_capture_on_commit_callbacks):
    old = _recorded_call(tenant, "5")
    erased = _recorded_call(tenant, "6", caller="+15557650000")
    kept = _recorded_call(tenant, "7", caller="+15557651111")
    Call.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=40))
    assert len(_keys(s3)) == 3
    # when retention runs with a 30-day period for recordings
    retention_policy_set(tenant=tenant, recordings_days=30)
    with django_capture_on_commit_callbacks(execute=True):
        retention_enforce(tenant=tenant, now=timezone.now())
    assert old.recording.name not in _keys(s3)
    # and a caller's data is erased
    with django_capture_on_commit_callbacks(execute=True):
        subject_erase(tenant=tenant, phone_number="+15557650000", actor=None)
    # then only the recording nobody asked to delete is left
    assert _keys(s3) == [kept.recording.name]
    assert erased.recording.name not in _keys(s3)


def test_without_a_tenant_key_and_without_creating_one_nothing_is_stored(s3, tenant, settings):
    settings.RECORDINGS_KMS_CREATE_KEYS = False
    with pytest.raises(RecordingKeyUnavailable, match="alias/aybiza-recordings-tenant-"):
        Call._meta.get_field("recording").storage.save(
            f"recordings/tenant-{tenant.pk}/x.wav", ContentFile(b"RIFF"))
    # the call still ends; the failure is on its record, and no unencrypted object was written
    call = _recorded_call(tenant, "8")
    assert not call.recording and call.events.filter(type="recording.failed").exists()
    assert _keys(s3) == []


def test_a_name_without_its_tenant_is_never_written(s3):
    with pytest.raises(ValueError, match="Not a tenant's recording name"):
        Call._meta.get_field("recording").storage.save("elsewhere/x.wav", ContentFile(b"RIFF"))
