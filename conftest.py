"""Fixtures shared by every app's tests: tenants, users, API keys, agents, numbers."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from aybiza.core.models import Role, Scope
from aybiza.core.services import api_key_create, membership_set, tenant_create

# Local servers speaking the Deepgram, Bedrock and OpenAI protocols (tests/fakes/).
pytest_plugins = ["tests.fakes.fixtures"]


@pytest.fixture
def tenant(db):
    return tenant_create(name="Acme Dental")


@pytest.fixture
def other_tenant(db):
    return tenant_create(name="Globex Plumbing")


@pytest.fixture
def owner(db, tenant, django_user_model):
    user = django_user_model.objects.create_user("owner", "owner@example.com", "pw-owner-123")
    membership_set(tenant=tenant, user=user, role=Role.OWNER)
    return user


@pytest.fixture
def api_client_for():
    """`api_client_for(tenant, scopes=[...])` → an APIClient sending a fresh Bearer key (by
    default one that may do everything: read, write, recordings)."""

    def make(tenant, scopes=(Scope.READ, Scope.WRITE, Scope.RECORDINGS)) -> APIClient:
        issued = api_key_create(tenant=tenant, name="test", scopes=list(scopes))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.key}")
        client.api_key = issued.api_key
        return client

    return make


@pytest.fixture
def api(api_client_for, tenant) -> APIClient:
    return api_client_for(tenant)


@pytest.fixture
def agent(tenant):
    from agents.services import agent_create

    return agent_create(
        tenant=tenant, name="Reception", greeting="Hello, thanks for calling Acme Dental.",
        system_prompt="You are the receptionist of Acme Dental.",
        knowledge=[
            {"question": "What are your opening hours?",
             "answer": "We are open Monday to Friday, nine to five."},
            {"question": "Where are you located?", "answer": "We are at 12 Main Street."},
        ],
        status="live",
    )


@pytest.fixture
def phone_number(tenant, agent):
    from agents.services import phone_number_create

    return phone_number_create(tenant=tenant, e164="+15550100000", agent_id=agent.id)
