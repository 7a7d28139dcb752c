"""A tenant's own Deepgram, Bedrock and OpenAI credentials: sealed at rest, write-only over the
API and the admin, invisible to other tenants, used by the tenant's calls, never logged."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging

import pytest
from django.db import connection
from django.urls import reverse

from agents.models import ProviderCredential
from agents.selectors import provider_credentials_for
from agents.services import agent_create, phone_number_create, provider_credentials_set
from aybiza.core.errors import ApplicationError
from calls.realtime.loader import LoadedStream, load_stream
from calls.realtime.providers.llm.base import Conversation
from calls.realtime.providers.stt.base import STTOptions
from calls.services import call_start
from calls.twilio import StreamToken
from compliance.models import AuditEvent
from tools.secrets import unseal_secrets

URL = "/api/v1/provider-credentials/"
DEEPGRAM_KEY = "dg-tenant-5ecret-0001"
OPENAI_KEY = "sk-tenant-5ecret-0002"
AWS_KEY_ID = "AKIATENANT00000003"
AWS_SECRET = "aws-tenant-5ecret-0004"
AWS_SESSION = "aws-tenant-session-0005"
SECRETS = (DEEPGRAM_KEY, OPENAI_KEY, AWS_KEY_ID, AWS_SECRET, AWS_SESSION)
_sids = itertools.count(1)


def _load(agent, number) -> LoadedStream:
    """What a starting media stream of a new call to `number` gets from the loader."""
    call = call_start(tenant=agent.tenant, phone_number=number,
                      call_sid=f"CA{next(_sids):032d}", from_number="+15557654321",
                      to_number=number.e164)
    return load_stream(token=StreamToken(call_id=call.id, tenant_id=call.tenant_id),
                       call_sid=call.call_sid, stream_sid=f"MZ{call.id:032d}")


def _on_deepgram(agent, **provider_options):
    agent.stt_provider = agent.tts_provider = "deepgram"
    agent.provider_options = provider_options
    agent.save()
    return agent


def test_secrets_are_sealed_with_the_tenants_key_and_bound_to_their_provider(tenant,
                                                                             other_tenant):
    # given a tenant's Deepgram key
    row = provider_credentials_set(tenant=tenant, provider="deepgram",
                                   secrets={"api_key": DEEPGRAM_KEY})
    # when the row is read as the database holds it
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets_sealed, secret_names FROM agents_providercredential "
                       "WHERE id = %s", [row.pk])
        sealed, names = cursor.fetchone()
    # then only the name is readable; the key opens for this tenant and provider only
    assert DEEPGRAM_KEY not in sealed
    assert DEEPGRAM_KEY not in str(names)
    assert provider_credentials_for(tenant=tenant) == {"deepgram": {"api_key": DEEPGRAM_KEY}}
    with pytest.raises(ApplicationError):
        unseal_secrets(other_tenant, sealed, context=row.sealing_context)
    with pytest.raises(ApplicationError):
        unseal_secrets(tenant, sealed, context="provider-credentials:openai")


def test_put_by_provider_name_stores_them_and_no_response_shows_a_value(api, tenant):
    # when the tenant sets its Deepgram key
    put = api.put(f"{URL}deepgram/", {"secrets": {"api_key": DEEPGRAM_KEY}}, format="json")
    # then the answer names the secret, and no read of the resource returns its value
    assert put.status_code == 200, put.content
    body = put.json()
    assert set(body) == {"id", "provider", "secret_names", "created_at", "updated_at"}
    assert (body["provider"], body["secret_names"]) == ("deepgram", ["api_key"])
    reads = [put, api.get(URL), api.get(f"{URL}deepgram/"), api.get(f"{URL}{body['id']}/")]
    assert [response.status_code for response in reads] == [200] * 4
    assert api.get(f"{URL}{body['id']}/").json() == body
    for response in reads:
        assert DEEPGRAM_KEY not in response.content.decode()
    assert provider_credentials_for(tenant=tenant) == {"deepgram": {"api_key": DEEPGRAM_KEY}}


def test_writes_merge_and_an_empty_value_removes_a_secret(api, tenant):
    # given a Bedrock key pair
    api.put(f"{URL}bedrock/", {"secrets": {"aws_access_key_id": AWS_KEY_ID,
                                           "aws_secret_access_key": AWS_SECRET}}, format="json")
    # when a session token is added, then removed
    added = api.patch(f"{URL}bedrock/", {"secrets": {"aws_session_token": AWS_SESSION}},
                      format="json")
    removed = api.patch(f"{URL}bedrock/", {"secrets": {"aws_session_token": None}},
                        format="json")
    # then each write kept the names it did not mention
    assert added.json()["secret_names"] == [
        "aws_access_key_id", "aws_secret_access_key", "aws_session_token"]
    assert removed.json()["secret_names"] == ["aws_access_key_id", "aws_secret_access_key"]
    assert provider_credentials_for(tenant=tenant) == {"bedrock": {
        "aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": AWS_SECRET}}


def test_unknown_or_incomplete_secrets_are_a_400_with_field_errors(api, tenant):
    # when a misspelt name, and half an AWS key pair, are sent
    misspelt = api.put(f"{URL}deepgram/", {"secrets": {"apikey": DEEPGRAM_KEY}}, format="json")
    half_pair = api.put(f"{URL}bedrock/", {"secrets": {"aws_access_key_id": AWS_KEY_ID}},
                        format="json")
    # then both are refused naming the field, without echoing the value, and nothing is stored
    assert misspelt.status_code == 400
    message = misspelt.json()["error"]["fields"]["secrets"][0]
    assert "apikey" in message
    assert "api_key" in message
    assert DEEPGRAM_KEY not in misspelt.content.decode()
    assert half_pair.status_code == 400
    assert "aws_secret_access_key" in half_pair.json()["error"]["fields"]["secrets"][0]
    assert not ProviderCredential.objects.filter(tenant=tenant).exists()


def test_a_provider_without_credentials_is_404(api):
    response = api.put(f"{URL}twilio/", {"secrets": {"api_key": "x"}}, format="json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_another_tenant_can_neither_see_nor_change_nor_remove_them(api_client_for, tenant,
                                                                    other_tenant):
    # given tenant A's Deepgram key, and tenant B's client
    own = provider_credentials_set(tenant=tenant, provider="deepgram",
                                   secrets={"api_key": DEEPGRAM_KEY})
    other = api_client_for(other_tenant)
    # when B lists, reads, writes and deletes by A's id and by the provider's name
    listed = other.get(URL).json()
    by_id = [other.get(f"{URL}{own.pk}/"), other.delete(f"{URL}{own.pk}/"),
             other.patch(f"{URL}{own.pk}/", {"secrets": {"api_key": "b"}}, format="json")]
    by_name = [other.get(f"{URL}deepgram/"), other.delete(f"{URL}deepgram/")]
    b_sets_its_own = other.put(f"{URL}deepgram/", {"secrets": {"api_key": "b-key"}},
                               format="json")
    # then B sees none of A's, each attempt is a 404, and B's own key is separate
    assert listed["count"] == 0
    assert [response.status_code for response in by_id + by_name] == [404] * 5
    assert b_sets_its_own.status_code == 200
    assert b_sets_its_own.json()["id"] != own.pk
    assert provider_credentials_for(tenant=tenant) == {"deepgram": {"api_key": DEEPGRAM_KEY}}
    assert provider_credentials_for(tenant=other_tenant) == {"deepgram": {"api_key": "b-key"}}


def test_delete_by_name_forgets_them(api, tenant):
    provider_credentials_set(tenant=tenant, provider="openai", secrets={"api_key": OPENAI_KEY})
    assert api.delete(f"{URL}openai/").status_code == 204
    assert provider_credentials_for(tenant=tenant) == {}
    assert api.delete(f"{URL}openai/").status_code == 404


def test_a_call_uses_its_tenants_deepgram_key_and_other_tenants_the_platforms(
        settings, tenant, other_tenant, agent, phone_number):
    # given the platform's key, and a tenant with its own
    settings.DEEPGRAM_API_KEY = "platform-key"
    provider_credentials_set(tenant=tenant, provider="deepgram",
                             secrets={"api_key": DEEPGRAM_KEY})
    _on_deepgram(agent)
    other_agent = _on_deepgram(agent_create(tenant=other_tenant, name="Theirs"))
    other_number = phone_number_create(tenant=other_tenant, e164="+15550100001",
                                       agent_id=other_agent.id)
    # when a call of each tenant starts its stream
    ours, theirs = _load(agent, phone_number), _load(other_agent, other_number)
    # then each one's recogniser and voice use its own tenant's key
    # (a lone vendor sits in a one-provider chain, for its first-byte budget)
    assert (vendor(ours.stt).api_key, vendor(ours.tts).api_key) == (DEEPGRAM_KEY, DEEPGRAM_KEY)
    assert (vendor(theirs.stt).api_key, vendor(theirs.tts).api_key) == (
        "platform-key", "platform-key")


def test_fallbacks_get_their_own_credentials_and_explicit_options_win(tenant, agent,
                                                                       phone_number):
    # given credentials for three providers, and an agent whose brain falls back twice
    provider_credentials_set(tenant=tenant, provider="deepgram",
                             secrets={"api_key": DEEPGRAM_KEY})
    provider_credentials_set(tenant=tenant, provider="openai", secrets={"api_key": OPENAI_KEY})
    provider_credentials_set(tenant=tenant, provider="bedrock", secrets={
        "aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": AWS_SECRET})
    _on_deepgram(agent, stt={"api_key": "set-by-an-operator"}, llm={
        "fallbacks": ["openai", "bedrock"], "bedrock": {"regions": ["eu-west-1"]}})
    # when a call starts
    loaded = _load(agent, phone_number)
    # then each backup got its tenant's secrets next to its options; explicit values stay
    offline, openai, bedrock = loaded.llm.providers
    assert openai.api_key == OPENAI_KEY
    assert bedrock._credentials == (AWS_KEY_ID, AWS_SECRET, None)
    assert bedrock.regions == ["eu-west-1"]
    assert vendor(loaded.stt).api_key == "set-by-an-operator"
    assert vendor(loaded.tts).api_key == DEEPGRAM_KEY


def vendor(provider):
    """The one provider of a lone vendor's chain."""
    [only] = provider.providers
    return only


async def _use(loaded: LoadedStream) -> None:
    stream = await loaded.stt.open_stream(STTOptions())
    await stream.aclose()
    async for _event in loaded.llm.respond(Conversation(system_prompt="Be brief.")):
        pass


@pytest.mark.integration
def test_keys_reach_the_vendors_and_never_the_logs_or_the_audit_trail(
        api, tenant, agent, phone_number, fake_deepgram, fake_bedrock, caplog):
    # given everything logged, and a tenant that sets its keys (one attempt misspelt)
    caplog.set_level(logging.DEBUG)
    api.put(f"{URL}deepgram/", {"secrets": {"apikey": DEEPGRAM_KEY}}, format="json")
    api.put(f"{URL}deepgram/", {"secrets": {"api_key": DEEPGRAM_KEY}}, format="json")
    api.put(f"{URL}bedrock/", {"secrets": {
        "aws_access_key_id": AWS_KEY_ID, "aws_secret_access_key": AWS_SECRET,
        "aws_session_token": AWS_SESSION}}, format="json")
    bedrock_at_fake = {k: v for k, v in fake_bedrock.provider_options().items()
                       if not k.startswith("aws_")}
    _on_deepgram(agent, stt={"base_url": fake_deepgram.base_url, "ws_url": fake_deepgram.ws_url})
    agent.llm_provider = "bedrock"
    agent.provider_options["llm"] = bedrock_at_fake
    agent.save()
    # when a call on those vendors listens and answers once, and the keys are removed
    asyncio.run(_use(_load(agent, phone_number)))
    api.delete(f"{URL}deepgram/")
    # then the vendors received the tenant's keys
    assert fake_deepgram.listen_connections[0].headers["Authorization"] == f"Token {DEEPGRAM_KEY}"
    signed = fake_bedrock.requests[0].headers
    assert f"Credential={AWS_KEY_ID}/" in signed["Authorization"]
    assert signed["X-Amz-Security-Token"] == AWS_SESSION
    # and no log line holds any of them (libraries log request headers at DEBUG)
    assert "converse-stream" in caplog.text  # the calls were logged at all
    for secret in SECRETS:
        assert secret not in caplog.text
    # and the audit trail names the secrets, not their values
    events = AuditEvent.objects.filter(tenant_id=tenant.id,
                                       action__startswith="provider_credentials.").order_by("seq")
    assert [(e.action, e.payload) for e in events] == [
        ("provider_credentials.updated", {"provider": "deepgram", "set": ["api_key"],
                                          "removed": []}),
        ("provider_credentials.updated", {"provider": "bedrock", "set": [
            "aws_access_key_id", "aws_secret_access_key", "aws_session_token"], "removed": []}),
        ("provider_credentials.deleted", {"provider": "deepgram", "removed": ["api_key"]}),
    ]
    trail = json.dumps(list(events.values()), default=str)
    for secret in SECRETS:
        assert secret not in trail


def test_admin_shows_which_secrets_are_set_and_can_only_remove_them(client, django_user_model,
                                                                   tenant):
    # given an operator, and a tenant's key
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    row = provider_credentials_set(tenant=tenant, provider="deepgram",
                                   secrets={"api_key": DEEPGRAM_KEY})
    change_url = reverse("admin:agents_providercredential_change", args=[row.pk])
    # when they look at it, try to add one, and delete it
    pages = [client.get(reverse("admin:agents_providercredential_changelist")),
             client.get(change_url)]
    add = client.get(reverse("admin:agents_providercredential_add"))
    deleted = client.post(reverse("admin:agents_providercredential_delete", args=[row.pk]),
                          {"post": "yes"})
    # then the pages name the secret without its value, adding is closed, and the removal
    # went through the service (audited)
    for page in pages:
        assert page.status_code == 200
        assert "api_key" in page.content.decode()
        assert DEEPGRAM_KEY not in page.content.decode()
    assert add.status_code == 403
    assert deleted.status_code == 302
    assert not ProviderCredential.objects.exists()
    assert AuditEvent.objects.filter(action="provider_credentials.deleted",
                                     tenant_id=tenant.id).exists()
