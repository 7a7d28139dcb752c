"""Production: PostgreSQL, Redis, real secrets, hardened HTTP. Refuses to start half-configured."""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .env import env
from .twilio import DEV_TWILIO_AUTH_TOKEN

DEBUG = False
# Test doubles ("instant" providers) are not for real callers; the bench turns them on.
FAKE_PROVIDERS_ENABLED = env.bool("FAKE_PROVIDERS_ENABLED", default=False)
# Turns on the weak-value system checks (aybiza.core.checks), which refuse to serve on failure.
IS_PRODUCTION = True

REQUIRED_ENV = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL")
for _name in REQUIRED_ENV:
    if not env(_name, default=""):
        raise ImproperlyConfigured(f"Production settings need {_name} in the environment.")
if env("TWILIO_AUTH_TOKEN") == DEV_TWILIO_AUTH_TOKEN:
    raise ImproperlyConfigured("TWILIO_AUTH_TOKEN is the development token; set the real one.")
if len(env("SECRET_KEY")) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters.")
_engine: str = DATABASES["default"]["ENGINE"]  # noqa: F405
if not _engine.endswith((".postgresql", ".postgis")):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL in production.")
_public = urlsplit(PUBLIC_BASE_URL)  # noqa: F405
# Twilio opens media streams only over wss://, and signs webhooks over this exact origin.
if _public.scheme != "https" or not _public.hostname:
    raise ImproperlyConfigured("PUBLIC_BASE_URL must be an https:// origin in production.")

# Twilio and browsers reach us by the public host; more can be added (comma separated).
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[_public.hostname])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])  # noqa: F405

# Reset links are credentials: never printed to the logs. Without EMAIL_URL, e-mail is off (the
# reset page says so) instead of going to the console backend of the embedded default.
if not env("EMAIL_URL", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"

# `manage.py collectstatic` (the Procfile's release step) writes hashed, compressed copies to
# STATIC_ROOT; WhiteNoise serves them with far-future cache headers.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)  # noqa: F405
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# The load balancer probes, and Prometheus scrapes each server (with METRICS_TOKEN), over plain
# HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
# Automatic logoff (HIPAA 164.312(a)(2)(iii)): sessions end after this many idle seconds.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_TIMEOUT_S", default=30 * 60)
SESSION_SAVE_EVERY_REQUEST = True  # the timeout counts from the last request, not the login
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

from .compliance import require_production_keys  # noqa: E402

require_production_keys()

# JSON log lines (one object per line, with the call's tenant, sid and turn) for log shippers.
LOG_FORMAT = env("LOG_FORMAT", default="json")
LOGGING["handlers"]["console"]["formatter"] = "json" if LOG_FORMAT == "json" else "plain"  # noqa: F405
