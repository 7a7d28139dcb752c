"""The portal's stylesheet is served by the embedded server (`make serve`, DEBUG on)."""

from __future__ import annotations

import importlib

from django.test import RequestFactory
from django.urls import clear_url_caches, resolve

import aybiza.urls


def test_the_embedded_server_serves_the_portal_css(settings):
    settings.DEBUG = True
    urls = importlib.reload(aybiza.urls)
    try:
        match = resolve("/static/portal/portal.css", urlconf=urls)
        response = match.func(RequestFactory().get("/static/portal/portal.css"), **match.kwargs)
        assert response.status_code == 200
        assert b".topbar" in b"".join(response.streaming_content)
    finally:
        settings.DEBUG = False
        importlib.reload(aybiza.urls)
        clear_url_caches()
