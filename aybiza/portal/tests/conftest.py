"""Two tenants and members of every role, for portal tests (healthchecks' BaseTestCase idea:
every view is also tried by the other tenant and by a viewer)."""

from __future__ import annotations

import pytest
from django.test import Client

from aybiza.core.models import Role
from aybiza.core.services import membership_set


@pytest.fixture
def member_client(db, tenant, django_user_model):
    """`member_client(role)` → a test client signed in as a member of `tenant` with `role`."""

    def make(role: str = Role.OWNER, *, of=None) -> Client:
        user = django_user_model.objects.create_user(f"{role}-{(of or tenant).slug}",
                                                     password="pw-portal-123")
        membership_set(tenant=of or tenant, user=user, role=role)
        client = Client()
        client.force_login(user)
        client.user = user
        return client

    return make


@pytest.fixture
def owner_client(member_client):
    return member_client(Role.OWNER)


@pytest.fixture
def viewer_client(member_client):
    return member_client(Role.VIEWER)


@pytest.fixture
def other_agent(other_tenant):
    from agents.services import agent_create

    return agent_create(tenant=other_tenant, name="Globex line", greeting="Globex, hello.")


@pytest.fixture
def asgi_server():
    """The portal as production serves it: a real daphne process (ASGI, WebSockets for the live
    overview and the browser call) on the test database, instead of Django's WSGI live server.
    Tests using it need `django_db(transaction=True)`: the server is another process."""
    from types import SimpleNamespace

    from tests.daphne_server import daphne_server

    with daphne_server() as base_url:
        yield SimpleNamespace(url=base_url)
