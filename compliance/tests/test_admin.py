from __future__ import annotations

import json

import pytest
from django.test import Client

from calls.models import Call
from compliance.models import AuditEvent

CALLER = "+15557654321"
CHANGELIST = "/admin/compliance/callercall/"


@pytest.fixture
def staff_client(owner) -> Client:
    owner.is_staff = owner.is_superuser = True
    owner.save()
    client = Client()
    client.force_login(owner)
    return client


def test_staff_export_a_callers_data_from_the_admin(staff_client, make_call):
    call = make_call(caller=CALLER, words=["hello there"])

    response = staff_client.post(CHANGELIST, {"action": "export_caller_data",
                                              "_selected_action": [call.pk]})

    assert response.status_code == 200
    [bundle] = json.loads(response.content)
    assert bundle["calls"][0]["transcript"][0]["text"] == "hello there"


def test_erasing_from_the_admin_asks_for_confirmation_first(staff_client, make_call,
                                                            django_capture_on_commit_callbacks):
    call = make_call(caller=CALLER, words=["hello there"])
    make_call(caller=CALLER)  # a second call of the same caller, not selected
    form = {"action": "erase_caller_data", "_selected_action": [call.pk]}

    confirm = staff_client.post(CHANGELIST, form)
    assert confirm.status_code == 200 and CALLER.encode() in confirm.content
    assert Call.objects.count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        done = staff_client.post(CHANGELIST, {**form, "confirm": "yes"})

    assert done.status_code == 302
    assert not Call.objects.exists()  # every call of that caller, not only the selected one
    assert AuditEvent.objects.filter(action="subject.erased").count() == 1
