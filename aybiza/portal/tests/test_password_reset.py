"""Forgotten passwords: a single-use link by e-mail, no hint whether an address has an account,
and a cap on how many e-mails one address can be sent."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("rosa", "rosa@example.com", "old-pw-123456")


def reset_link() -> str:
    [message] = mail.outbox
    return re.search(r"https?://[^/]+(/portal/password/reset/\S+/)", message.body).group(1)


def test_a_member_resets_a_forgotten_password_with_the_emailed_link(user):
    client = Client()
    # when they ask for a link from the sign-in page
    assert reverse("portal:password-reset").encode() in client.get(reverse("portal:login")).content
    response = client.post(reverse("portal:password-reset"), {"email": "rosa@example.com"})
    # then one e-mail with a link goes to the account's address
    assert response.status_code == 302 and response.url == reverse("portal:password-reset-done")
    assert mail.outbox[0].to == ["rosa@example.com"]
    link = reset_link()
    # when they open it and choose a new password
    form_page = client.get(link, follow=True)
    assert b"Choose a new password" in form_page.content
    done = client.post(form_page.redirect_chain[-1][0], {
        "new_password1": "new-pw-7777-xyz", "new_password2": "new-pw-7777-xyz"})
    # then the new password signs in, the old one does not, and the link is spent
    assert done.url == reverse("portal:password-reset-complete")
    assert Client().login(username="rosa", password="new-pw-7777-xyz")
    assert not Client().login(username="rosa", password="old-pw-123456")
    assert b"already been used" in Client().get(link, follow=True).content


def test_an_unknown_address_looks_the_same_and_sends_nothing(user):
    response = Client().post(reverse("portal:password-reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response.url == reverse("portal:password-reset-done")
    assert mail.outbox == []


def test_one_address_gets_at_most_the_hourly_cap(user, settings):
    settings.PASSWORD_RESET_EMAILS_PER_HOUR = 2
    for _ in range(5):
        response = Client().post(reverse("portal:password-reset"), {"email": "ROSA@example.com"})
        assert response.url == reverse("portal:password-reset-done")
    assert len(mail.outbox) == 2


def test_without_a_mail_server_the_page_says_so(user, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    page = Client().get(reverse("portal:password-reset")).content.decode()
    assert "does not send e-mail" in page and "<form" not in page.split("auth-card")[1]
