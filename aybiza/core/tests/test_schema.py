"""The OpenAPI schema is complete and warning-free; the docs page needs nothing from a CDN."""

from __future__ import annotations

import io
import json
import re

from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.templatetags.static import static
from drf_spectacular.drainage import GENERATOR_STATS

from aybiza.api_urls import router

ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def test_schema_generation_has_no_warnings_and_validates(tmp_path):
    # given a clean slate of generator warnings (they are cached per process)
    GENERATOR_STATS.reset()
    stderr = io.StringIO()
    out = tmp_path / "schema.json"
    # when the schema is generated the way CI does it
    try:
        call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json",
                     "--file", str(out), stderr=stderr)
    except Exception as exc:  # SchemaGenerationError names only the count; show the warnings
        raise AssertionError(f"{exc}\n{stderr.getvalue()}") from exc
    # then nothing was reported, and the file is the OpenAPI 3 document of the API
    assert not GENERATOR_STATS._warn_cache, stderr.getvalue()
    assert not GENERATOR_STATS._error_cache, stderr.getvalue()
    assert json.loads(out.read_text())["openapi"].startswith("3.")


def test_schema_endpoint_serves_openapi_3_with_every_route(client):
    # when
    response = client.get("/api/schema/", {"format": "json"})
    # then
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for prefix, *_ in router.registry:
        assert f"/api/v1/{prefix}/" in schema["paths"]
        assert f"/api/v1/{prefix}/{{id}}/" in schema["paths"]
    # Keys are documented as bearer tokens, and list responses as pages.
    assert schema["components"]["securitySchemes"]["ApiKeyAuth"]["scheme"] == "bearer"
    agents_page = schema["paths"]["/api/v1/agents/"]["get"]["responses"]["200"]
    assert agents_page["content"]["application/json"]["schema"]["$ref"].endswith(
        "PaginatedAgentList")
    assert schema["paths"]["/api/v1/agents/{id}/"]["get"]["parameters"][0]["schema"] == {
        "type": "integer"}


def test_docs_page_loads_only_local_assets(client):
    # when
    response = client.get("/api/docs/")
    # then the page renders and every asset it names is served from our static files
    assert response.status_code == 200
    html = response.content.decode()
    assets = [a or b for a, b in ASSET.findall(html)]
    static_prefix = static("")
    assert any("swagger-ui-bundle.js" in asset for asset in assets), assets
    for asset in assets:
        assert not re.match(r"^(https?:)?//", asset), f"remote asset {asset}"
        if asset.startswith(static_prefix):
            relative = asset.removeprefix(static_prefix)
            assert finders.find(relative), f"{asset} is not in any static directory"
    assert "cdn" not in html.lower()
    assert "unpkg" not in html.lower()
