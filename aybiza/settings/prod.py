"""Production: PostgreSQL, Redis, real secrets, hardened HTTP. Refuses to start half-configured."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .env import env
from .twilio import DEV_TWILIO_AUTH_TOKEN

DEBUG = False

for _name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"):
    if not env(_name, default=""):
        raise ImproperlyConfigured(f"Production settings need {_name} in the environment.")
if env("TWILIO_AUTH_TOKEN") == DEV_TWILIO_AUTH_TOKEN:
    raise ImproperlyConfigured("TWILIO_AUTH_TOKEN is the development token; set the real one.")
if len(env("SECRET_KEY")) < 50:
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 random characters.")

DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)  # noqa: F405
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
