"""API keys endpoint, plus the base view every tenant-scoped API view derives from."""

from __future__ import annotations

from django.db import models
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response
from rest_framework.settings import api_settings

from aybiza.core.models import ApiKey, Scope
from aybiza.core.selectors import api_key_get, api_key_list
from aybiza.core.services import api_key_create, api_key_revoke, grantable_scopes
from aybiza.core.tenancy import request_tenant, request_tenant_role

# The largest id a database row can have (a signed 64-bit integer): larger ones are a 400, not
# an overflow in the database driver.
MAX_ID = 2**63 - 1


class TenantViewSetMixin:
    """Gives views `self.tenant` and pagination; subclasses query only through selectors.

    `schema_model` is the model a view lists. It only types the `{id}` path parameter in the
    OpenAPI schema: `get_queryset` is empty on purpose so nothing can read around the selectors.
    """

    schema_model: type[models.Model]
    # Read by drf-spectacular too, so list responses are documented as the pages they are.
    pagination_class = api_settings.DEFAULT_PAGINATION_CLASS

    @property
    def tenant(self):
        return request_tenant(self.request)

    def actor(self):
        """Who acts, for the audit log: the member, or the API key's principal."""
        user = self.request.user
        return user if getattr(user, "is_authenticated", False) else None

    def get_queryset(self) -> models.QuerySet:
        return self.schema_model._default_manager.none()

    def paginated_response(self, rows, serializer_class: type[serializers.Serializer]) -> Response:
        """One page of `rows` (a queryset from a selector) with count/next/previous links."""
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "scopes", "created_at", "last_used_at", "revoked_at"]
        read_only_fields = fields


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=Scope.choices), allow_empty=False,
        default=lambda: [Scope.READ, Scope.WRITE],
    )


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The secret. Shown only in this response.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]
        read_only_fields = fields


class ApiKeyViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """List, create (the secret is returned once) and revoke (DELETE) the tenant's API keys."""

    serializer_class = ApiKeySerializer
    schema_model = ApiKey

    def list(self, request):
        return self.paginated_response(api_key_list(tenant=self.tenant), ApiKeySerializer)

    def retrieve(self, request, pk=None):
        return Response(ApiKeySerializer(api_key_get(tenant=self.tenant, pk=pk)).data)

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: ApiKeyCreatedSerializer})
    def create(self, request):
        payload = ApiKeyCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        _, role = request_tenant_role(request)
        api_key = request.auth if isinstance(request.auth, ApiKey) else None
        issued = api_key_create(tenant=self.tenant, created_by=self.actor(),
                                grantable=grantable_scopes(role=role, api_key=api_key),
                                **payload.validated_data)
        data = {**ApiKeySerializer(issued.api_key).data, "key": issued.key}
        return Response(data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={204: None}, description="Revoke the key; it stops working at once.")
    def destroy(self, request, pk=None):
        api_key_revoke(api_key=api_key_get(tenant=self.tenant, pk=pk), actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)
