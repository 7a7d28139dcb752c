"""Static files (portal CSS, admin CSS, the API docs' Swagger UI) are served by the app itself
through WhiteNoise: by the embedded server and by daphne in production, with no other server."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client


@pytest.mark.parametrize(("path", "content"), [
    ("/static/portal/portal.css", b".topbar"),
    ("/static/admin/css/base.css", b"body"),
    ("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", b"swagger"),
])
def test_the_app_serves_static_files_without_debug(settings, path, content):
    settings.DEBUG = False  # as under daphne in production: no runserver, no DEBUG helpers
    response = Client().get(path)

    assert response.status_code == 200, path
    assert content in b"".join(response.streaming_content).lower()


def test_production_serves_collected_hashed_compressed_files_with_long_caching(settings,
                                                                                 tmp_path):
    # given production's storage and a collectstatic run (the Procfile's release step)
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path
    settings.WHITENOISE_USE_FINDERS = False
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
    call_command("collectstatic", "--noinput", verbosity=0)
    from django.templatetags.static import static

    hashed = static("admin/css/base.css")

    # when a browser asks for the hashed name, gzip accepted
    response = Client().get(hashed, headers={"accept-encoding": "gzip"})

    # then it is served compressed and cacheable for ever (the name changes with the content)
    assert hashed != "/static/admin/css/base.css"
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "gzip"
    assert "immutable" in response.headers["Cache-Control"]


def test_the_site_root_leads_to_the_portal(db):
    response = Client().get("/", follow=True)

    assert response.redirect_chain[0] == ("/portal/", 302)
    assert response.request["PATH_INFO"] == "/portal/login/"
