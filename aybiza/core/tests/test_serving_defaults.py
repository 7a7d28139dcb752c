"""A forgotten DJANGO_SETTINGS_MODULE never serves on the public development secrets, and
development values serve local hosts and connections only (issue 22 item 5).

Each case runs in a fresh interpreter: settings are read once per process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from django.conf import settings

from aybiza.core.checks import is_local_host, local_connections_only


def bare_env(**variables: str) -> dict[str, str]:
    """No DJANGO_* and no secrets: what a deploy that forgot its settings has."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
           "AYBIZA_VAR_DIR": os.environ.get("AYBIZA_VAR_DIR", str(settings.BASE_DIR / "var"))}
    env.update(variables)
    return env


def run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("entry_point", ["import aybiza.asgi", "from aybiza.celery import app\n"
                                         "from django.conf import settings\nsettings.DEBUG"])
def test_servers_default_to_production_settings(entry_point):
    # when a server or worker starts with no settings module and no secrets
    result = run(entry_point, bare_env())
    # then it is production's refusal, not a development server
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "Production settings need SECRET_KEY" in result.stderr, result.stderr


def test_manage_py_keeps_the_development_default_for_developer_commands():
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.conf import settings; print(settings.SETTINGS_MODULE)"],
        env=bare_env(), cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "aybiza.settings.dev"


@pytest.mark.parametrize("hosts", ["voice.example.com", "*", "localhost,203.0.113.7"])
def test_development_settings_refuse_to_serve_a_public_host(hosts):
    env = bare_env(DJANGO_SETTINGS_MODULE="aybiza.settings.dev", ALLOWED_HOSTS=hosts)
    # when the server loads the application, and when manage.py checks (runserver does)
    served = run("import aybiza.asgi\nprint('serving')", env)
    checked = subprocess.run([sys.executable, "manage.py", "check"], env=env,
                             cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=120)
    # then both refuse and say why
    for result in (served, checked):
        assert result.returncode != 0
        assert "aybiza.E001" in result.stderr and "may only serve local hosts" in result.stderr
    assert "serving" not in served.stdout


def test_development_settings_serve_local_hosts():
    env = bare_env(DJANGO_SETTINGS_MODULE="aybiza.settings.dev",
                   ALLOWED_HOSTS="localhost,127.0.0.1,[::1],app.localhost")
    served = run("import aybiza.asgi\nprint('serving')", env)
    assert served.returncode == 0, served.stderr
    assert "serving" in served.stdout


def test_own_secrets_without_debug_may_serve_a_public_host():
    # e.g. a developer's tunnel to Twilio: their own secrets, DEBUG off
    env = bare_env(DJANGO_SETTINGS_MODULE="aybiza.settings.dev", DEBUG="false",
                   ALLOWED_HOSTS="dev-tunnel.example.net", SECRET_KEY="x" * 10 + "own-key",
                   TWILIO_AUTH_TOKEN="their-real-token",
                   AYBIZA_MASTER_KEY="MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
    served = run("import aybiza.asgi\nprint('serving')", env)
    assert served.returncode == 0, served.stderr


@pytest.mark.parametrize(("host", "local"), [
    ("localhost", True), ("127.0.0.1", True), ("[::1]", True), ("app.localhost", True),
    ("testserver", True), ("voice.example.com", False), ("*", False), (".example.com", False),
    ("10.0.0.5", False),
])
def test_local_hosts(host, local):
    assert is_local_host(host) is local


def asgi_call(app, scope_type: str, server) -> list[dict]:
    sent: list[dict] = []
    inbox = [{"type": "websocket.connect"}] if scope_type == "websocket" else [
        {"type": "http.request", "body": b"", "more_body": False}]

    async def receive():
        return inbox.pop(0)

    async def send(message):
        sent.append(message)

    scope = {"type": scope_type, "path": "/", "headers": [(b"host", b"localhost")]}
    if server is not None:
        scope["server"] = server
    asyncio.run(app(scope, receive, send))
    return sent


async def inner_app(scope, receive, send):
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.mark.parametrize("scope_type", ["http", "websocket"])
def test_development_values_answer_only_connections_to_loopback(scope_type):
    app = local_connections_only(inner_app)
    # when a remote client reaches a public address, even claiming Host: localhost
    remote = asgi_call(app, scope_type, ("203.0.113.7", 8000))
    # then it is refused; a loopback connection and an in-process client are served
    local = asgi_call(app, scope_type, ("127.0.0.1", 8000))
    in_process = asgi_call(app, scope_type, None)
    if scope_type == "http":
        assert remote[0]["status"] == 403
        assert local[0]["status"] == 200 and in_process[0]["status"] == 200
    else:
        assert remote == [{"type": "websocket.close", "code": 1008}]
        assert local == in_process == [{"type": "websocket.accept"}]
