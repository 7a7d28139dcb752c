"""Creating and changing tools: validation, per-tenant names, sealed secrets, agents."""

from __future__ import annotations

import importlib
import json

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError

from agents.models import ProviderCredential
from aybiza.core.errors import ApplicationError
from tools import secrets as tool_secrets
from tools.models import Tool
from tools.secrets import unseal_secrets
from tools.services import tool_create, tool_update

pytestmark = pytest.mark.django_db
URL = "https://api.example.com/orders/{order_id}"


def create(tenant, **fields):
    fields.setdefault("name", "lookup_order")
    fields.setdefault("description", "Look up an order.")
    return tool_create(tenant=tenant, url_template=URL, **fields)


def fields_of(error: ApplicationError) -> set[str]:
    return set(error.extra["fields"])


@pytest.mark.parametrize("parameters", [
    {"type": "object", "properties": {"n": {"type": "integr"}}},
    {"type": "object", "required": "n"},
    {"type": "array"},
    ["not", "an", "object"],
])
def test_parameters_must_be_a_draft_2020_12_object_schema(tenant, parameters):
    with pytest.raises(ApplicationError) as refused:
        create(tenant, parameters=parameters)
    assert "parameters" in fields_of(refused.value)


def test_saving_a_model_with_a_broken_schema_is_refused_too(tenant):
    tool = Tool(tenant=tenant, name="raw", description="x", url_template=URL,
                parameters={"type": "object", "properties": {"n": {"minimum": "one"}}})
    with pytest.raises(ValidationError):
        tool.save()
    assert not Tool.objects.filter(name="raw").exists()


@pytest.mark.parametrize("name", ["lookup-order", "1st_tool", "has space", "x" * 65, ""])
def test_names_are_identifiers(tenant, name):
    with pytest.raises(ApplicationError) as refused:
        create(tenant, name=name)
    assert "name" in fields_of(refused.value)


def test_names_are_unique_per_tenant_only(tenant, other_tenant):
    create(tenant)
    with pytest.raises(ApplicationError) as refused:
        create(tenant)
    assert "name" in fields_of(refused.value)
    assert create(other_tenant).tenant == other_tenant


@pytest.mark.parametrize("url", ["ftp://api.example.com/x", "https://{host}/x",
                                 "https://api.example.com:{port}/x", "api.example.com/x"])
def test_the_host_is_fixed_and_arguments_only_go_in_path_or_query(tenant, url):
    with pytest.raises(ApplicationError) as refused:
        tool_create(tenant=tenant, name="t", description="x", url_template=url)
    assert "url_template" in fields_of(refused.value)


def test_api_key_auth_needs_a_header_name(tenant):
    with pytest.raises(ApplicationError) as refused:
        create(tenant, auth_type="api_key_header")
    assert "auth_header_name" in fields_of(refused.value)


def test_trigger_phrases_are_a_list_of_strings(tenant):
    with pytest.raises(ApplicationError):
        create(tenant, trigger_phrases="book a table")
    assert create(tenant, trigger_phrases=["book a table"]).trigger_phrases == ["book a table"]


def test_secrets_are_sealed_at_rest_and_merged_on_update(tenant):
    # given
    tool = create(tenant, auth_type="basic", secrets={"username": "bot", "password": "hunter2"})
    # then nothing readable is stored
    stored = Tool.objects.get(pk=tool.pk).secrets_sealed
    assert "hunter2" not in stored and "bot" not in stored
    # when one secret changes and another is removed
    tool_update(tenant=tenant, tool=tool, secrets={"password": "correct-horse", "username": None})
    # then
    assert unseal_secrets(tenant, Tool.objects.get(pk=tool.pk).secrets_sealed) == {
        "password": "correct-horse"}


def test_secrets_of_one_tenant_do_not_open_for_another(tenant, other_tenant):
    tool = create(tenant, auth_type="bearer", secrets={"token": "t-1"})
    with pytest.raises(ApplicationError):
        unseal_secrets(other_tenant, tool.secrets_sealed)


def test_every_secret_is_sealed_by_the_compliance_envelope_encryption(tenant):
    tool = create(tenant, auth_type="bearer", secrets={"token": "envelope-token"})
    assert tool.secrets_sealed.startswith(tool_secrets.SEALED_PREFIX)
    assert not hasattr(tool_secrets, "_fernet")  # no second scheme to fall back to
    with pytest.raises(ApplicationError, match="Unknown secret format"):
        unseal_secrets(tenant, "f1:" + tool.secrets_sealed)


def _legacy_sealed(tenant_id: int, values: dict) -> str:
    """What the early local scheme wrote: Fernet keyed by HKDF(SECRET_KEY, tenant)."""
    migration = importlib.import_module("tools.migrations.0003_reseal_legacy_secrets")
    token = migration._legacy_fernet(tenant_id).encrypt(json.dumps(values).encode())
    return "f1:" + token.decode("ascii")


def test_the_migration_reseals_secrets_of_the_early_local_scheme(tenant):
    # given a tool and provider credentials stored by the early local scheme
    tool = create(tenant, auth_type="bearer")
    Tool.objects.filter(pk=tool.pk).update(
        secrets_sealed=_legacy_sealed(tenant.pk, {"token": "old-token"}))
    credential = ProviderCredential.objects.create(
        tenant=tenant, provider="deepgram", secret_names=["api_key"],
        secrets_sealed=_legacy_sealed(tenant.pk, {"api_key": "dg-old"}))
    # when the data migration runs
    migration = importlib.import_module("tools.migrations.0003_reseal_legacy_secrets")
    migration.reseal(django_apps, None)
    # then both are sealed by compliance and open as before
    tool.refresh_from_db()
    credential.refresh_from_db()
    assert tool.secrets_sealed.startswith(tool_secrets.SEALED_PREFIX)
    assert unseal_secrets(tenant, tool.secrets_sealed) == {"token": "old-token"}
    assert unseal_secrets(tenant, credential.secrets_sealed,
                          context=credential.sealing_context) == {"api_key": "dg-old"}


def test_agents_must_belong_to_the_tenant(tenant, other_tenant, agent):
    with pytest.raises(ApplicationError) as refused:
        create(other_tenant, agent_ids=[agent.id])
    assert "agent_ids" in fields_of(refused.value)
    tool = create(tenant, agent_ids=[agent.id])
    assert list(agent.tools.all()) == [tool]


def test_a_builtin_gets_its_defaults(tenant):
    tool = tool_create(tenant=tenant, kind="builtin", builtin_name="lookup_caller")
    assert tool.name == "lookup_caller" and tool.idempotent
    assert tool.parameters == {"type": "object", "properties": {}}
    assert "called before" in tool.trigger_phrases


def test_unknown_builtin_is_refused(tenant):
    with pytest.raises(ApplicationError) as refused:
        tool_create(tenant=tenant, kind="builtin", builtin_name="launch_rocket", name="x",
                    description="x")
    assert "builtin_name" in fields_of(refused.value)


def test_update_of_another_tenants_tool_is_not_found(tenant, other_tenant):
    tool = create(tenant)
    with pytest.raises(ApplicationError) as refused:
        tool_update(tenant=other_tenant, tool=tool, description="mine now")
    assert refused.value.status_code == 404
