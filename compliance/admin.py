"""Admin: the audit log and keys are read-only; staff export or erase a caller's data here."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from calls.models import Direction
from compliance.models import (
    AuditChainHead,
    AuditEvent,
    CallerCall,
    ConsentRecord,
    ErasureRequest,
    RetentionPolicy,
    TenantDataKey,
)
from compliance.services import subject_erase, subject_export


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["chain", "seq", "action", "actor", "target_type", "target_id", "at"]
    list_filter = ["action", "chain"]
    search_fields = ["action", "actor", "target_id"]
    date_hierarchy = "at"
    ordering = ["-at", "-id"]


@admin.register(AuditChainHead)
class AuditChainHeadAdmin(ReadOnlyAdmin):
    list_display = ["chain", "last_seq", "last_hash", "base_seq", "updated_at"]


@admin.register(TenantDataKey)
class TenantDataKeyAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "version", "wrapped_by", "wrapping_key_id", "active", "created_at",
                    "rewrapped_at"]
    list_filter = ["wrapped_by", "active"]
    exclude = ["wrapped_key"]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ["call", "kind", "granted", "method", "at", "tenant"]
    list_filter = ["kind", "granted", "method", "tenant"]


@admin.register(RetentionPolicy)
class RetentionPolicyAdmin(admin.ModelAdmin):
    list_display = ["tenant", "recordings_days", "transcripts_days", "call_events_days",
                    "calls_days", "tool_logs_days", "audit_events_days", "memory_days",
                    "campaign_rows_days"]


@admin.register(ErasureRequest)
class ErasureRequestAdmin(admin.ModelAdmin):
    """Filed by callers ("forget me"); decided by the tenant's owners and admins in the portal,
    where the number is shown: here only its state."""

    list_display = ["created_at", "tenant", "status", "call", "handled_by", "handled_at"]
    list_filter = ["status", "tenant"]
    exclude = ["phone_sealed"]
    readonly_fields = ["tenant", "subject_hash", "call", "status", "handled_by", "handled_at"]

    def has_add_permission(self, request) -> bool:
        return False


def _subjects(calls: QuerySet[CallerCall]) -> set[tuple]:
    """(tenant, number) of the callers in these calls: the far end of each call."""
    return {(call.tenant, call.from_number if call.direction == Direction.INBOUND
             else call.to_number) for call in calls.select_related("tenant")}


@admin.register(CallerCall)
class CallerCallAdmin(ReadOnlyAdmin):
    """Find a caller's calls by number, then export or erase everything about that caller."""

    list_display = ["call_sid", "tenant", "direction", "from_number", "to_number", "started_at"]
    list_filter = ["tenant", "direction"]
    search_fields = ["from_number", "to_number", "call_sid"]
    actions = ["export_caller_data", "erase_caller_data"]

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser

    @admin.action(description="Export the callers' data (JSON)")
    def export_caller_data(self, request: HttpRequest, queryset: QuerySet) -> HttpResponse:
        bundles = [subject_export(tenant=tenant, phone_number=number, actor=request.user)
                   for tenant, number in _subjects(queryset) if number]
        response = HttpResponse(json.dumps(bundles, indent=2), content_type="application/json")
        response["Content-Disposition"] = 'attachment; filename="caller-data.json"'
        return response

    @admin.action(description="Erase the callers' data (irreversible)")
    def erase_caller_data(self, request: HttpRequest, queryset: QuerySet):
        subjects = sorted(_subjects(queryset), key=lambda s: (s[0].pk, s[1]))
        if request.POST.get("confirm") != "yes":
            return TemplateResponse(request, "compliance/erase_confirm.html", {
                **self.admin_site.each_context(request), "subjects": subjects,
                "calls": queryset, "action": "erase_caller_data",
                "opts": self.model._meta, "title": "Erase callers' data?",
            })
        for tenant, number in subjects:
            if number:
                subject_erase(tenant=tenant, phone_number=number, actor=request.user)
        self.message_user(request, f"Erased the data of {len(subjects)} caller(s).",
                          messages.SUCCESS)
        return None
