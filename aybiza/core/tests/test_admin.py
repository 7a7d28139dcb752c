"""Every model has an admin, and every changelist loads with a search and a filter applied."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse

from agents.models import KnowledgeEntry, PhoneNumber
from agents.services import agent_create, phone_number_create
from aybiza.core.models import Role
from aybiza.core.services import api_key_create, api_key_revoke, membership_set
from calls.services import call_start, event_record, turn_save

# Framework bookkeeping that nobody edits by hand, so it has no admin by design:
UNREGISTERED_BY_DESIGN = {
    "admin.LogEntry",  # the admin's own history, shown on each object's "History" page
    "auth.Permission",  # created by migrations; assigned through the User and Group pages
    "contenttypes.ContentType",  # Django's model registry, maintained by migrations
    "sessions.Session",  # opaque encoded session data; cleared with `clearsessions`
    "django_celery_beat.PeriodicTasks",  # beat's one-row "schedule changed" marker
}

MODELS = [model for model in apps.get_models()
          if model._meta.label not in UNREGISTERED_BY_DESIGN]
ADMINS = [
    pytest.param(model, model_admin, id=model._meta.label)
    for model, model_admin in sorted(admin.site._registry.items(),
                                     key=lambda pair: pair[0]._meta.label)
]


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_every_model_has_an_admin(model):
    assert model in admin.site._registry, (
        f"{model._meta.label} has no ModelAdmin; register one in its app's admin.py")


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def populated(tenant, other_tenant, django_user_model):
    """Rows of every core model in two tenants, so relation filters have choices to offer."""
    for index, each in enumerate([tenant, other_tenant]):
        agent = agent_create(tenant=each, name=f"Agent {index}", knowledge=[
            {"question": "Opening hours?", "answer": "Nine to five."}])
        number = phone_number_create(tenant=each, e164=f"+1555010012{index}", agent_id=agent.id)
        call = call_start(tenant=each, phone_number=number, call_sid=f"CA{index:032d}",
                          from_number="+14155552671", to_number=number.e164)
        turn_save(call=call, index=0, role="agent", text="Hello, thanks for calling.")
        event_record(call=call, type=f"event_{index}", payload={"at_ms": 1200})
        api_key = api_key_create(tenant=each, name=f"key {index}").api_key
        if index:
            api_key_revoke(api_key=api_key)
        user = django_user_model.objects.create_user(f"member{index}")
        membership_set(tenant=each, user=user, role=[Role.OWNER, Role.VIEWER][index])
    return tenant


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def _filter_query(model_admin, user) -> dict[str, str]:
    """The first real choice of the first list filter that offers one (as the sidebar links)."""
    changelist = model_admin.get_changelist_instance(_request(user))
    for spec in changelist.filter_specs:
        for choice in list(spec.choices(changelist))[1:]:  # the first choice is "All"
            query = dict(parse_qsl(choice["query_string"].lstrip("?")))
            if query:
                return query
    return {}


@pytest.mark.parametrize(("model", "model_admin"), ADMINS)
def test_changelist_loads_with_search_and_filter(model, model_admin, superuser_client,
                                                 populated):
    # given a search term and a filter the sidebar offers (when the admin has them)
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    params = _filter_query(model_admin, superuser_client.user)
    if model_admin.get_list_filter(None):
        assert params, f"{model._meta.label}: list_filter offers no choice to test with"
    if model_admin.get_search_fields(None):
        params["q"] = "a"
    # when
    response = superuser_client.get(f"{url}?{urlencode(params)}")
    # then the page renders (an unknown filter would redirect with ?e=1 instead)
    assert response.status_code == 200, response.content[:500]
    assert "cl" in response.context


@pytest.mark.parametrize(("model", "model_admin"), ADMINS)
def test_add_or_change_page_loads(model, model_admin, superuser_client, populated):
    # An admin with a broken form or inline fails here rather than in front of an operator.
    instance = model._default_manager.first()
    if instance is not None:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
                      args=[instance.pk])
    elif model_admin.has_add_permission(_request(superuser_client.user)):
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
    else:
        pytest.skip("no row to show and adding is disabled")
    assert superuser_client.get(url).status_code == 200


def test_admin_number_form_normalises_and_keeps_agents_in_their_tenant(superuser_client, tenant,
                                                                       other_tenant):
    # given an agent of each tenant
    own = agent_create(tenant=tenant, name="Ours")
    foreign = agent_create(tenant=other_tenant, name="Theirs")
    url = reverse("admin:agents_phonenumber_add")
    form = {"tenant": tenant.pk, "e164": "+1 (555) 010-0000", "label": "Main"}
    # when an operator binds the number to the other tenant's agent
    refused = superuser_client.post(url, {**form, "agent": foreign.pk})
    # then the form refuses it
    assert refused.status_code == 200
    assert "belongs to another tenant" in refused.content.decode()
    assert not PhoneNumber.objects.exists()
    # and with the tenant's own agent the number is stored normalised
    accepted = superuser_client.post(url, {**form, "agent": own.pk})
    assert accepted.status_code == 302
    assert PhoneNumber.objects.get().e164 == "+15550100000"


def test_admin_knowledge_entry_takes_its_agents_tenant(superuser_client, tenant):
    agent = agent_create(tenant=tenant, name="Ours")
    response = superuser_client.post(reverse("admin:agents_knowledgeentry_add"),
                                     {"agent": agent.pk, "question": "Q?", "answer": "A."})
    assert response.status_code == 302
    assert KnowledgeEntry.objects.get().tenant_id == tenant.id
