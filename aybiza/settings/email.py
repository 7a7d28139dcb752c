"""Outgoing e-mail: password resets and the `send_email` tool, through one Django backend."""

from .env import env

# One URL (django-environ): smtp+tls://user:password@smtp.example.com:587, or consolemail://
# (the default: messages are printed by the process, nothing leaves the machine).
_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND: str = _email["EMAIL_BACKEND"]
EMAIL_HOST: str = _email.get("EMAIL_HOST", "") or "localhost"
EMAIL_PORT: int = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER: str = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD: str = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS: bool = bool(_email.get("EMAIL_USE_TLS", False))
EMAIL_USE_SSL: bool = bool(_email.get("EMAIL_USE_SSL", False))
EMAIL_TIMEOUT: int = 10  # a slow mail server must not hold a worker or a request for ever
# The sender of password resets, and of `send_email` tools without a verified `from`.
DEFAULT_FROM_EMAIL: str = env("DEFAULT_FROM_EMAIL", default="AYBIZA <no-reply@localhost>")
# How many password-reset e-mails one address may get per hour (more are silently not sent:
# the page never says whether an address has an account).
PASSWORD_RESET_EMAILS_PER_HOUR: int = env.int("PASSWORD_RESET_EMAILS_PER_HOUR", default=3)
