"""`seed_demo` (run by `make serve` and `make demo`) prints the portal and a login that works."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client


@pytest.mark.django_db
def test_the_printed_demo_login_opens_the_portal_on_the_demo_agent():
    # when the demo is seeded for a server on port 8000
    out = io.StringIO()
    call_command("seed_demo", "--json", "--base-url", "http://127.0.0.1:8000", stdout=out)
    text = out.getvalue()
    seed = json.loads(text.strip().splitlines()[-1])

    # then the portal URL is printed for people and for scripts
    assert seed["portal_url"] == "http://127.0.0.1:8000/portal/"
    assert "Portal:   http://127.0.0.1:8000/portal/" in text

    # and the printed login signs in to the portal, which shows the demo agent
    client = Client()
    response = client.post("/portal/login/", {"username": seed["username"],
                                              "password": seed["password"]}, follow=True)
    assert response.status_code == 200
    assert b"Demo" in response.content
    assert b"Demo Receptionist" in client.get("/portal/agents/").content
