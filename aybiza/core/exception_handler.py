"""One DRF exception handler: every API error is `{"error": {"code", "message", "fields"?}}`."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler

from aybiza.core.errors import ApplicationError


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ApplicationError):
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
        # Services name bad fields in extra["fields"]; they go where DRF's own field errors go,
        # so clients read one place. `extra` is still passed through as the service gave it.
        if "fields" in exc.extra:
            body["fields"] = exc.extra["fields"]
        if exc.extra:
            body["extra"] = exc.extra
        return Response({"error": body}, status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "error": {
                "code": "invalid",
                "message": "The request has invalid fields.",
                "fields": response.data if isinstance(response.data, dict)
                else {"non_field_errors": response.data},
            }
        }
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        response.data = {"error": {"code": getattr(exc, "default_code", "error"),
                                   "message": str(detail)}}
    return response
