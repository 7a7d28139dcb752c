"""Routes of the tools app.

- API: `register(router)` adds `tools/`, `tool-executions/` and `tool-catalog/` to the `/api/v1/`
  router (aybiza/api_urls.py).
"""

from __future__ import annotations

from rest_framework.routers import BaseRouter


def register(router: BaseRouter) -> None:
    from tools.api import ToolCatalogViewSet, ToolExecutionViewSet, ToolViewSet

    router.register("tools", ToolViewSet, basename="tool")
    router.register("tool-executions", ToolExecutionViewSet, basename="tool-execution")
    router.register("tool-catalog", ToolCatalogViewSet, basename="tool-catalog")

