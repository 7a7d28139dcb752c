"""Password reset by e-mail: Django's views and tokens, the portal's templates, and a cap on how
many reset e-mails one address gets (a form anyone can post must not become a mail cannon)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.cache import cache

WINDOW_S = 3600
DUMMY_BACKEND = "django.core.mail.backends.dummy.EmailBackend"


def reset_by_email_available() -> bool:
    """False when the server has no way to send e-mail (production without EMAIL_URL)."""
    return settings.EMAIL_BACKEND != DUMMY_BACKEND


class CappedPasswordResetForm(PasswordResetForm):
    """Sends at most PASSWORD_RESET_EMAILS_PER_HOUR e-mails per address per hour; the page looks
    the same either way, so it never tells whether an address has an account."""

    def send_mail(self, subject_template_name, email_template_name, context, from_email,
                  to_email, html_email_template_name=None) -> None:
        key = f"portal:password-reset:{to_email.strip().lower()}"
        cache.add(key, 0, WINDOW_S)
        if cache.incr(key) > settings.PASSWORD_RESET_EMAILS_PER_HOUR:
            return
        super().send_mail(subject_template_name, email_template_name, context, from_email,
                          to_email, html_email_template_name)
