"""`/api/v1/compliance/`: data-subject export and erasure, the audit log, the retention policy."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from aybiza.core.api import TenantViewSetMixin
from aybiza.core.models import ApiKey, Role
from aybiza.core.permissions import TenantScopePermission
from aybiza.core.tenancy import request_tenant_role
from compliance.models import AuditEvent, RetentionPolicy
from compliance.selectors import audit_event_list, retention_policy_get
from compliance.services import retention_policy_set, subject_erase, subject_export
from compliance.services.retention import POLICY_FIELDS

ERASE_ROLES = frozenset({Role.OWNER, Role.ADMIN})


class SubjectErasePermission(permissions.BasePermission):
    """Erasure is irreversible: members need the owner or admin role (keys: the write scope)."""

    message = "Only owners and admins may erase a caller's data."

    def has_permission(self, request, view) -> bool:
        if getattr(view, "action", None) != "erase" or isinstance(request.auth, ApiKey):
            return True
        _, role = request_tenant_role(request)
        return role in ERASE_ROLES


class SubjectSerializer(serializers.Serializer):
    phone = serializers.CharField(max_length=32, help_text="The caller's number (E.164 best).")


class SubjectRequestViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """A caller's data, known by phone number: export it (JSON bundle) or erase it."""

    permission_classes = [TenantScopePermission, SubjectErasePermission]

    @extend_schema(parameters=[OpenApiParameter("phone", str, required=True)],
                   responses={200: dict})
    @action(detail=False, methods=["get"])
    def export(self, request):
        # The number ends up in access logs when sent as a query parameter (as specified);
        # POST export/ with a JSON body avoids that.
        payload = SubjectSerializer(data=request.query_params)
        payload.is_valid(raise_exception=True)
        return Response(subject_export(tenant=self.tenant, actor=request.user,
                                       phone_number=payload.validated_data["phone"]))

    @extend_schema(request=SubjectSerializer, responses={200: dict})
    @export.mapping.post
    def export_post(self, request):
        payload = SubjectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        return Response(subject_export(tenant=self.tenant, actor=request.user,
                                       phone_number=payload.validated_data["phone"]))

    @extend_schema(request=SubjectSerializer, responses={200: dict})
    @action(detail=False, methods=["post"])
    def erase(self, request):
        payload = SubjectSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        counts = subject_erase(tenant=self.tenant, actor=request.user,
                               phone_number=payload.validated_data["phone"])
        return Response({"erased": counts})


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["seq", "action", "actor", "target_type", "target_id", "target_repr",
                  "payload", "at", "hash", "prev_hash"]
        read_only_fields = fields


class AuditEventViewSet(TenantViewSetMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The tenant's audit trail, newest first (read-only)."""

    serializer_class = AuditEventSerializer

    def get_queryset(self):
        return audit_event_list(tenant=self.tenant)


class RetentionPolicySerializer(serializers.ModelSerializer):
    class Meta:
        model = RetentionPolicy
        fields = list(POLICY_FIELDS)


class RetentionPolicyViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """The tenant's retention periods in days (null keeps that data). GET, PUT to replace."""

    serializer_class = RetentionPolicySerializer

    def list(self, request):
        policy = retention_policy_get(tenant=self.tenant) or RetentionPolicy()
        return Response(RetentionPolicySerializer(policy).data)

    @extend_schema(request=RetentionPolicySerializer, responses={200: RetentionPolicySerializer})
    def put(self, request):
        payload = RetentionPolicySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        days = {name: payload.validated_data.get(name) for name in POLICY_FIELDS}
        policy = retention_policy_set(tenant=self.tenant, actor=request.user, **days)
        return Response(RetentionPolicySerializer(policy).data, status=status.HTTP_200_OK)
