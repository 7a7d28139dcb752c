"""OpenAPI descriptions for the project's own building blocks (loaded by `CoreConfig.ready`)."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents `Authorization: Bearer <key>` so the docs page can send a key."""

    target_class = "aybiza.core.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "ayb_<prefix>_<secret>",
            "description": "A tenant API key, created under /api/v1/api-keys/ or by seed_demo.",
        }
