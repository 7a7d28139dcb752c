"""System checks that keep a misconfigured process from serving (issue 22).

Two families, both Error level and tagged `SERVING_TAG`, which every serving entry point runs at
start-up (`aybiza.asgi`, the Celery worker) as `runserver` and `manage.py check` do:

- development values (DEBUG, or one of the public development secrets anyone can read in this
  repository) may serve local hosts only;
- production settings refuse weak values: a guessable SECRET_KEY, `ALLOWED_HOSTS=*`, wildcard
  CSRF origins, a short HSTS.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

SERVING_TAG = "aybiza_serving"
# A year: the HSTS preload list (SECURE_HSTS_PRELOAD) asks for no less.
MIN_HSTS_SECONDS_PRELOAD = 31_536_000
MIN_HSTS_SECONDS = 86_400
MIN_SECRET_KEY_LENGTH = 50
MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5  # Django's own threshold (security.W009)


def development_values_in_use() -> list[str]:
    """The development values these settings use: DEBUG, or secrets published in the repo."""
    from aybiza.settings.base import DEV_SECRET_KEY
    from aybiza.settings.compliance import DEV_MASTER_KEY
    from aybiza.settings.twilio import DEV_TWILIO_AUTH_TOKEN

    found = []
    if settings.DEBUG:
        found.append("DEBUG=true")
    if settings.SECRET_KEY == DEV_SECRET_KEY:
        found.append("the development SECRET_KEY")
    if getattr(settings, "TWILIO_AUTH_TOKEN", "") == DEV_TWILIO_AUTH_TOKEN:
        found.append("the development TWILIO_AUTH_TOKEN")
    if (getattr(settings, "AYBIZA_MASTER_KEY", "") == DEV_MASTER_KEY
            and not getattr(settings, "KMS_KEY_ID", "")):
        found.append("the development AYBIZA_MASTER_KEY")
    return found


def is_local_host(host: str) -> bool:
    """localhost, *.localhost or a loopback address (Django's test client: `testserver`)."""
    host = host.strip().lower().rstrip(".")
    if host in ("localhost", "testserver") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@checks.register(checks.Tags.security, SERVING_TAG)
def development_values_serve_local_hosts_only(app_configs, **kwargs) -> list[checks.CheckMessage]:
    in_use = development_values_in_use()
    public = [host for host in settings.ALLOWED_HOSTS if not is_local_host(host)]
    if not in_use or not public:
        return []
    return [checks.Error(
        f"Development values ({', '.join(in_use)}) may only serve local hosts, but "
        f"ALLOWED_HOSTS includes {', '.join(map(repr, public))}.",
        hint="Serve anything reachable from outside with DJANGO_SETTINGS_MODULE="
             "aybiza.settings.prod, or set your own SECRET_KEY, TWILIO_AUTH_TOKEN and "
             "AYBIZA_MASTER_KEY with DEBUG=false.",
        id="aybiza.E001")]


@checks.register(checks.Tags.security, SERVING_TAG)
def production_values_are_strong(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Production (aybiza.settings.prod) only: the other modes are local by the check above."""
    if not getattr(settings, "IS_PRODUCTION", False):
        return []
    errors: list[checks.CheckMessage] = []
    key = settings.SECRET_KEY
    if (len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < MIN_SECRET_KEY_UNIQUE_CHARACTERS
            or key.startswith("django-insecure-")):
        errors.append(checks.Error(
            f"SECRET_KEY is guessable: it needs at least {MIN_SECRET_KEY_LENGTH} random "
            f"characters (at least {MIN_SECRET_KEY_UNIQUE_CHARACTERS} different ones).",
            hint='Generate one: python -c "import secrets; print(secrets.token_urlsafe(64))"',
            id="aybiza.E002"))
    if "*" in settings.ALLOWED_HOSTS:
        errors.append(checks.Error(
            "ALLOWED_HOSTS='*' accepts any Host header (password-reset and absolute URLs, "
            "cache poisoning).",
            hint="Leave ALLOWED_HOSTS unset (the host of PUBLIC_BASE_URL) or name the hosts.",
            id="aybiza.E003"))
    weak_origins = [origin for origin in settings.CSRF_TRUSTED_ORIGINS
                    if not _is_narrow_origin(origin)]
    if weak_origins:
        errors.append(checks.Error(
            f"CSRF_TRUSTED_ORIGINS {', '.join(map(repr, weak_origins))} trusts too much: each "
            f"must be https:// with a named host (a wildcard only below a registered domain, "
            f"as https://*.example.com).",
            hint="Leave CSRF_TRUSTED_ORIGINS unset (PUBLIC_BASE_URL) or list exact origins.",
            id="aybiza.E004"))
    minimum = MIN_HSTS_SECONDS_PRELOAD if settings.SECURE_HSTS_PRELOAD else MIN_HSTS_SECONDS
    if minimum > settings.SECURE_HSTS_SECONDS:
        errors.append(checks.Error(
            f"SECURE_HSTS_SECONDS={settings.SECURE_HSTS_SECONDS}: browsers must keep to "
            f"HTTPS for at least {minimum} seconds"
            + (" (the HSTS preload list asks for a year)." if settings.SECURE_HSTS_PRELOAD
               else "."),
            hint="Leave SECURE_HSTS_SECONDS unset (a year).",
            id="aybiza.E005"))
    return errors


def _is_narrow_origin(origin: str) -> bool:
    parts = urlsplit(origin)
    host = parts.hostname or ""
    if parts.scheme != "https" or not host:
        return False
    if "*" not in host:
        return True
    # "*.example.com": a wildcard below a name with a dot; never "*", "*.com" or "a*b".
    rest = host[2:] if host.startswith("*.") else ""
    return "." in rest and "*" not in rest


def refuse_to_serve_unless_checks_pass() -> None:
    """Run the serving checks; ImproperlyConfigured with every error when any fails.

    For entry points Django does not check on its own: the ASGI application and Celery workers.
    """
    errors = [message for message in checks.run_checks(tags=[SERVING_TAG])
              if message.level >= checks.ERROR and not message.is_silenced()]
    if errors:
        raise ImproperlyConfigured("Refusing to serve:\n" + "\n".join(
            f"  {message.id}: {message.msg} ({message.hint})" for message in errors))


def local_connections_only(application):
    """`application`, answering only connections made to a loopback address of this machine.

    Installed by aybiza.asgi when development values are in use: ALLOWED_HOSTS is checked
    against the Host header, which a remote client may set to "localhost"; the address the
    connection reached (ASGI `scope["server"]`) it cannot choose. In-process test clients have
    no `server` and pass. Runs once per connection, never per media frame.
    """

    async def guarded(scope, receive, send):
        server = scope.get("server")
        if scope["type"] in ("http", "websocket") and server and not _loopback(server[0]):
            if scope["type"] == "websocket":
                await receive()  # websocket.connect; a close before accept refuses with 403
                await send({"type": "websocket.close", "code": 1008})
                return
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
            await send({"type": "http.response.body",
                        "body": b"Development settings serve local connections only.\n"})
            return
        await application(scope, receive, send)

    return guarded


def _loopback(host: str | None) -> bool:
    try:
        return ipaddress.ip_address(str(host).strip("[]")).is_loopback
    except ValueError:
        return str(host).lower() == "localhost"
