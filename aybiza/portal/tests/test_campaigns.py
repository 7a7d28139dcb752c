"""Campaign pages: create one with its CSV, see what was refused, start it, download results;
the do-not-call list."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents.services import phone_number_create
from agents.versions import agent_publish
from calls.campaign_models import Campaign, CampaignStatus
from memory.models import Contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def line(tenant, agent):
    agent_publish(tenant=tenant, agent=agent)
    return phone_number_create(tenant=tenant, e164="+15550100100", agent_id=agent.pk)


def _form(line, **extra):
    return {"name": "Reminders", "agent": line.agent_id, "from_number": line.pk,
            "legal_basis": "contract", "window_start": "09:00", "window_end": "20:00",
            "window_days": ["0", "1", "2", "3", "4"], "max_concurrent": "5",
            "calls_per_second": "1", "max_attempts": "3", "retry_delay_minutes": "15", **extra}


def test_a_campaign_is_created_with_its_people_and_refused_rows_are_shown(owner_client, line):
    people = SimpleUploadedFile("people.csv", b"phone,name\n+15550100201,Ana Lima\n"
                                              b"banana,Bo\n", content_type="text/csv")
    response = owner_client.post(reverse("portal:campaign-new"), _form(line, people=people))
    campaign = Campaign.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("portal:campaign-detail", args=[campaign.pk])
    page = owner_client.get(response.url)
    html = page.content.decode()
    assert "Added 1 person. 1 row refused" in html
    assert "Ana Lima" in html and "+15550100201" in html
    assert "Rows not added" in html
    assert "Not a valid phone number: use the international form" in html
    assert "Start calling" in html


def test_bad_settings_are_shown_on_the_form_and_nothing_is_created(owner_client, line):
    response = owner_client.post(reverse("portal:campaign-new"),
                                 _form(line, window_start="18:00", window_end="09:00"))
    assert response.status_code == 200
    assert "Must be later than window_start" in response.content.decode()
    assert not Campaign.objects.exists()


def test_start_pause_and_the_results_download(owner_client, line):
    owner_client.post(reverse("portal:campaign-new"), _form(line, people=SimpleUploadedFile(
        "p.csv", b"phone,name\n+15550100201,=cmd()\n")))
    campaign = Campaign.objects.get()
    control = reverse("portal:campaign-control", args=[campaign.pk])
    owner_client.post(control, {"action": "start"})
    assert Campaign.objects.get().status == CampaignStatus.RUNNING
    response = owner_client.post(control, {"action": "start"}, follow=True)
    assert "cannot be started" in response.content.decode()
    owner_client.post(control, {"action": "pause"})
    assert Campaign.objects.get().status == CampaignStatus.PAUSED
    export = owner_client.get(reverse("portal:campaign-export", args=[campaign.pk]))
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert rows[0]["phone_number"] == "+15550100201" and rows[0]["name"] == "'=cmd()"


def test_a_viewer_sees_a_campaign_but_cannot_run_it(owner_client, viewer_client, line):
    owner_client.post(reverse("portal:campaign-new"), _form(line))
    campaign = Campaign.objects.get()
    page = viewer_client.get(reverse("portal:campaign-detail", args=[campaign.pk]))
    assert page.status_code == 200 and b"Start calling" not in page.content
    assert viewer_client.post(reverse("portal:campaign-control", args=[campaign.pk]),
                              {"action": "start"}).status_code == 403
    assert Campaign.objects.get().status == CampaignStatus.DRAFT


def test_the_do_not_call_list_adds_and_removes_numbers(owner_client, tenant):
    page = reverse("portal:do-not-call")
    response = owner_client.post(page, {"phone_number": "+1 555 010 0299"}, follow=True)
    assert "+15550100299 will not be called" in response.content.decode()
    contact = Contact.objects.get(tenant=tenant, do_not_call=True)
    assert "+15550100299" in owner_client.get(page).content.decode()
    assert "Not a phone number" in owner_client.post(page, {"phone_number": "x"}).content.decode()
    owner_client.post(reverse("portal:do-not-call-remove", args=[contact.pk]))
    assert not Contact.objects.filter(do_not_call=True).exists()
