"""Production settings pass Django's deploy checks, and refuse to start half-configured.

Each case runs in a fresh interpreter: settings are read once per process.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from aybiza.settings.twilio import DEV_TWILIO_AUTH_TOKEN

REQUIRED = ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL")


def production_env(**overrides: str) -> dict[str, str]:
    """A complete production-like environment. Nothing connects: `check` needs no servers.

    Every variable is set explicitly (empty means unset to the settings), so a developer's
    `.env` file, which only fills variables that are absent, cannot change the outcome.
    """
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "aybiza.settings.prod",
        "SECRET_KEY": secrets.token_urlsafe(60)[:60],
        "DATABASE_URL": "postgres://aybiza:s3cret@db.internal:5432/aybiza",
        "REDIS_URL": "redis://cache.internal:6379/0",
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "PUBLIC_BASE_URL": "https://voice.example.com",
        # compliance.E001 (a deploy check) refuses the development master key.
        "AYBIZA_MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "AYBIZA_VAR_DIR": os.environ.get("AYBIZA_VAR_DIR", str(settings.BASE_DIR / "var")),
        "ALLOWED_HOSTS": "",
        "CSRF_TRUSTED_ORIGINS": "",
        "DEBUG": "",
    }
    env.update(overrides)
    # An empty ALLOWED_HOSTS/CSRF_TRUSTED_ORIGINS/DEBUG would be read as "set to empty".
    return {name: value for name, value in env.items()
            if value or name in REQUIRED or name in overrides}


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR,
                          capture_output=True, text=True, timeout=120)


CHECK_DEPLOY = (
    "import django; django.setup()\n"
    "from django.core.management import call_command\n"
    "call_command('check', deploy=True, fail_level='WARNING')\n"
)


def test_deploy_check_passes_with_a_full_production_environment():
    # when Django's deployment checks run against the production settings
    result = run_python(CHECK_DEPLOY, production_env())
    # then they report nothing at all (a warning would fail at fail_level=WARNING)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout, result.stdout


def test_production_redirects_to_https_except_the_health_checks_and_metrics():
    # SecurityMiddleware decides before any view runs, so no database is needed.
    code = (
        "import django; django.setup()\n"
        "from django.http import HttpResponse\n"
        "from django.middleware.security import SecurityMiddleware\n"
        "from django.test import RequestFactory\n"
        "middleware = SecurityMiddleware(lambda request: HttpResponse('ok'))\n"
        "for path in ('/healthz', '/metrics', '/api/v1/agents/'):\n"
        "    request = RequestFactory().get(path, HTTP_HOST='voice.example.com')\n"
        "    print(path, middleware(request).status_code)\n"
    )
    result = run_python(code, production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["/healthz", "200", "/metrics", "200",
                                     "/api/v1/agents/", "301"]


def test_production_derives_hosts_from_the_public_origin():
    code = ("import django; django.setup(); import json; from django.conf import settings as s;"
            "print(json.dumps([s.ALLOWED_HOSTS, s.CSRF_TRUSTED_ORIGINS, s.DEBUG,"
            " s.CACHES['default']['BACKEND'], s.CHANNEL_LAYERS['default']['BACKEND']]))")
    result = run_python(code, production_env())
    assert result.returncode == 0, result.stderr
    hosts, origins, debug, cache, layer = json.loads(result.stdout.strip().splitlines()[-1])
    assert hosts == ["voice.example.com"]
    assert origins == ["https://voice.example.com"]
    assert debug is False
    assert "redis" in cache.lower() and "redis" in layer.lower()


@pytest.mark.parametrize("name", REQUIRED)
def test_production_refuses_to_start_without(name):
    result = run_python("import aybiza.settings.prod", production_env(**{name: ""}))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert name in result.stderr


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"TWILIO_AUTH_TOKEN": DEV_TWILIO_AUTH_TOKEN}, "development token"),
        ({"SECRET_KEY": "short-but-not-empty"}, "SECRET_KEY"),
        ({"DATABASE_URL": "sqlite:////tmp/aybiza.sqlite3"}, "PostgreSQL"),
        ({"PUBLIC_BASE_URL": "http://voice.example.com"}, "https://"),
    ],
)
def test_production_refuses_unsafe_values(overrides, complaint):
    result = run_python("import aybiza.settings.prod", production_env(**overrides))
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert complaint in result.stderr


def test_the_control_case_imports_cleanly():
    # The refusals above mean something only if the same environment, complete, is accepted.
    result = run_python("import aybiza.settings.prod", production_env())
    assert result.returncode == 0, result.stderr


# --- weak values: system checks refuse them (issue 22 item 6) ------------------------------------

SERVE = "import aybiza.asgi\nprint('serving')\n"


@pytest.mark.parametrize(
    ("overrides", "check_id", "complaint"),
    [
        ({"SECRET_KEY": "a" * 50}, "aybiza.E002", "SECRET_KEY is guessable"),
        ({"SECRET_KEY": "django-insecure-" + secrets.token_urlsafe(50)}, "aybiza.E002",
         "SECRET_KEY is guessable"),
        ({"ALLOWED_HOSTS": "*"}, "aybiza.E003", "ALLOWED_HOSTS='*'"),
        ({"CSRF_TRUSTED_ORIGINS": "https://*"}, "aybiza.E004", "'https://*'"),
        ({"CSRF_TRUSTED_ORIGINS": "https://*.com"}, "aybiza.E004", "'https://*.com'"),
        ({"CSRF_TRUSTED_ORIGINS": "http://voice.example.com"}, "aybiza.E004", "https://"),
        ({"SECURE_HSTS_SECONDS": "0"}, "aybiza.E005", "SECURE_HSTS_SECONDS=0"),
        ({"SECURE_HSTS_SECONDS": "3600"}, "aybiza.E005", "a year"),
    ],
)
def test_production_refuses_weak_values(overrides, check_id, complaint):
    env = production_env(**overrides)
    # when the deploy check runs, and when a server loads the application
    checked = run_python(CHECK_DEPLOY, env)
    served = run_python(SERVE, env)
    # then both refuse, naming the check and the value
    assert checked.returncode != 0
    assert check_id in checked.stderr and complaint in checked.stderr, checked.stderr
    assert served.returncode != 0 and "serving" not in served.stdout
    assert "Refusing to serve" in served.stderr and check_id in served.stderr, served.stderr


def test_production_accepts_narrow_wildcard_origins_and_named_hosts():
    env = production_env(ALLOWED_HOSTS="voice.example.com,.example.com",
                         CSRF_TRUSTED_ORIGINS="https://voice.example.com,https://*.example.com")
    checked = run_python(CHECK_DEPLOY, env)
    served = run_python(SERVE, env)
    assert checked.returncode == 0, checked.stderr
    assert served.returncode == 0 and "serving" in served.stdout, served.stderr
