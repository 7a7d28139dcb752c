"""Routes of the tools app.

- API: `register(router)` adds `tools/`, `tool-executions/` and `tool-catalog/` to the `/api/v1/`
  router (aybiza/api_urls.py).
- Twilio: `urlpatterns` (the warm-transfer whisper), included under `twilio/tools/`.
"""

from __future__ import annotations

from django.urls import path
from rest_framework.routers import BaseRouter

from tools import views


def register(router: BaseRouter) -> None:
    from tools.api import ToolCatalogViewSet, ToolExecutionViewSet, ToolViewSet

    router.register("tools", ToolViewSet, basename="tool")
    router.register("tool-executions", ToolExecutionViewSet, basename="tool-execution")
    router.register("tool-catalog", ToolCatalogViewSet, basename="tool-catalog")


urlpatterns = [
    path("whisper/", views.whisper, name="tools-whisper"),
]
