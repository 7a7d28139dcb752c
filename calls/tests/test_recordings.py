"""Recordings at rest and their playback links (embedded default: files sealed with the
tenant's key). The S3 + KMS side is in test_recordings_s3.py."""

from __future__ import annotations

import io
import wave
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from aybiza.core.models import Role, Scope
from aybiza.core.services import api_key_create, membership_set
from calls.models import Call, Direction
from calls.recordings import recording_link
from calls.services import call_finish, call_start
from compliance.models import AuditEvent, chain_for
from compliance.services import retention_enforce, retention_policy_set


def _wav(seconds: float = 0.5) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as audio:
        audio.setnchannels(2)  # caller left, agent right
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(bytes(range(256)) * int(8000 * 4 * seconds / 256))
    return buffer.getvalue()


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def recorded(tenant, media_root) -> tuple[Call, bytes]:
    call = call_start(tenant=tenant, phone_number=None, call_sid="CA" + "7" * 32,
                      from_number="+15557654321", to_number="+15550100000",
                      direction=Direction.INBOUND)
    audio = _wav()
    call_finish(call=call, outcome="caller_hung_up", recording=ContentFile(audio))
    call.refresh_from_db()
    return call, audio


def _client(django_user_model, tenant, role: str) -> Client:
    user = django_user_model.objects.create_user(f"{role}-user", password="pw-portal-123")
    membership_set(tenant=tenant, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


def _actions(tenant) -> list[str]:
    return list(AuditEvent.objects.filter(chain=chain_for(tenant.pk))
                .values_list("action", flat=True))


def test_a_recording_is_filed_under_its_tenant_and_sealed_at_rest(recorded, media_root, tenant):
    call, audio = recorded
    # then the name says whose it is, and the bytes on disk are not the WAV
    assert call.recording.name.startswith(f"recordings/tenant-{tenant.pk}/")
    assert call.recording.name.endswith(f"{call.call_sid}.wav.enc")
    on_disk = (media_root / call.recording.name).read_bytes()
    assert b"RIFF" not in on_disk and b"WAVE" not in on_disk
    assert audio[100:200] not in on_disk


def test_a_link_plays_the_recording_until_it_expires(recorded, tenant):
    call, audio = recorded
    # when a link is issued
    link = recording_link(call=call)
    # then anyone holding it gets the WAV, and can seek in it
    response = Client().get(link.url)
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    assert response.content == audio and response["Cache-Control"] == "private, no-store"
    ranged = Client().get(link.url, headers={"range": "bytes=44-99"})
    assert ranged.status_code == 206 and ranged.content == audio[44:100]
    assert ranged["Content-Range"] == f"bytes 44-99/{len(audio)}"
    assert Client().get(link.url, headers={"range": f"bytes={len(audio)}-"}).status_code == 416
    assert "call.recording_link_issued" in _actions(tenant)
    # and after its time it plays no more
    short = recording_link(call=call, ttl_s=1)
    with pytest.MonkeyPatch.context() as patch:
        later = timezone.now() + timedelta(seconds=2)
        patch.setattr("calls.recordings.timezone.now", lambda: later)
        expired = Client().get(short.url)
    assert expired.status_code == 404 and b"expired" in expired.content


def test_altered_and_stale_links_are_refused(recorded, tenant, django_capture_on_commit_callbacks):
    call, _ = recorded
    link = recording_link(call=call)
    token = link.url.rstrip("/").rsplit("/", 1)[1]
    # an altered token, garbage, and another path are refused
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "garbage", "x" * 500):
        assert Client().get(reverse("recording-playback", args=[bad])).status_code == 404
    # a link to a recording that retention deleted since is refused too
    retention_policy_set(tenant=tenant, recordings_days=1)
    with django_capture_on_commit_callbacks(execute=True):
        retention_enforce(tenant=tenant, now=timezone.now() + timedelta(days=2))
    assert Client().get(link.url).status_code == 404


def test_the_portal_plays_recordings_only_for_owners_and_admins(recorded, tenant,
                                                                django_user_model):
    call, audio = recorded
    url = reverse("portal:call-detail", args=[call.pk])
    # an owner gets a player whose link plays
    page = _client(django_user_model, tenant, Role.OWNER).get(url).content.decode()
    assert '<audio class="recording__player" controls' in page
    src = page.split('<audio class="recording__player" controls preload="none" src="')[1]
    assert Client().get(src.split('"')[0]).content == audio
    # a member and a viewer are told who may play it, and get no link
    for role in (Role.MEMBER, Role.VIEWER):
        page = _client(django_user_model, tenant, role).get(url).content.decode()
        assert "<audio" not in page and "/recordings/" not in page
        assert "Recordings can be played by owners and admins only." in page


def test_the_roles_allowed_to_play_recordings_are_a_setting(recorded, tenant, settings,
                                                            django_user_model):
    call, _ = recorded
    settings.RECORDING_ROLES = ["owner", "admin", "member"]
    page = _client(django_user_model, tenant, Role.MEMBER).get(
        reverse("portal:call-detail", args=[call.pk])).content.decode()
    assert "<audio" in page


def test_the_api_gives_a_link_to_those_allowed(recorded, tenant, api_client_for):
    call, audio = recorded
    # a key with the recordings scope gets an absolute link that expires
    body = api_client_for(tenant, scopes=[Scope.READ, Scope.RECORDINGS]).get(
        f"/api/v1/calls/{call.pk}/recording-link/").json()
    assert body["url"].startswith("http://testserver/recordings/")
    assert body["expires_at"]
    assert Client().get(body["url"].removeprefix("http://testserver")).content == audio
    # a read/write key does not
    refused = api_client_for(tenant, scopes=[Scope.READ, Scope.WRITE]).get(
        f"/api/v1/calls/{call.pk}/recording-link/")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "recording_not_allowed"


def test_nobody_grants_a_key_more_than_they_may_do(tenant, django_user_model, api_client_for):
    # a member cannot give a key the recordings scope, in the portal or the API
    member = _client(django_user_model, tenant, Role.MEMBER)
    page = member.get(reverse("portal:api-key-new")).content.decode()
    assert 'value="recordings"' not in page
    posted = member.post(reverse("portal:api-key-new"),
                         {"name": "sneaky", "scopes": ["read", "recordings"]})
    assert b'id="id_scopes_errors"' in posted.content
    assert api_client_for(tenant, scopes=[Scope.READ, Scope.WRITE]).post(
        "/api/v1/api-keys/", {"name": "sneaky", "scopes": ["read", "recordings"]},
        format="json").status_code == 403
    # an owner can
    owner = _client(django_user_model, tenant, Role.OWNER)
    assert 'value="recordings"' in owner.get(reverse("portal:api-key-new")).content.decode()
    issued = api_key_create(tenant=tenant, name="archive", scopes=["read", "recordings"],
                            grantable=["read", "write", "recordings"])
    assert issued.api_key.scopes == ["read", "recordings"]


def test_a_recording_that_cannot_be_stored_does_not_keep_the_call_open(tenant, media_root,
                                                                       monkeypatch):
    # given storage that fails (a bucket that is down)
    def broken(*args, **kwargs):
        raise OSError("storage down")

    monkeypatch.setattr("calls.recordings.recording_attach", broken)
    call = call_start(tenant=tenant, phone_number=None, call_sid="CA" + "8" * 32,
                      from_number="+15557654321", to_number="+15550100000",
                      direction=Direction.INBOUND)
    # when the call ends with a recording
    call_finish(call=call, outcome="caller_hung_up", recording=ContentFile(_wav()))
    # then the call is closed, without a recording, and the failure is on the record
    call.refresh_from_db()
    assert call.outcome == "caller_hung_up" and call.ended_at and not call.recording
    assert call.events.filter(type="recording.failed").exists()
