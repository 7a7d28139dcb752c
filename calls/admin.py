from django.contrib import admin

from calls.models import (
    AlertRule,
    AlertTransition,
    Call,
    CallEvent,
    CallRollup,
    Campaign,
    CampaignContact,
    Transfer,
    Turn,
)


class TurnInline(admin.TabularInline):
    model = Turn
    extra = 0
    can_delete = False
    fields = ["index", "role", "text", "start_ms", "end_ms", "interrupted", "first_frame_ms"]
    readonly_fields = fields


class CallEventInline(admin.TabularInline):
    model = CallEvent
    extra = 0
    can_delete = False
    fields = ["type", "offset_ms", "payload", "at"]
    readonly_fields = fields


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["call_sid", "tenant", "agent", "from_number", "to_number", "status",
                    "outcome", "started_at", "duration_seconds"]
    list_filter = ["status", "outcome", "direction", "tenant"]
    search_fields = ["call_sid", "from_number", "to_number", "agent__name"]
    date_hierarchy = "started_at"
    readonly_fields = ["metrics", "cost"]
    list_select_related = ["tenant", "agent"]
    inlines = [TurnInline, CallEventInline]

    def has_add_permission(self, request) -> bool:
        return False  # calls are created by Twilio's webhook, never by hand


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ["call", "index", "role", "text", "interrupted", "first_frame_ms"]
    list_filter = ["role", "interrupted", "tenant"]
    search_fields = ["text", "call__call_sid"]
    list_select_related = ["call"]

    def has_add_permission(self, request) -> bool:
        return False  # turns are recorded by the live call


@admin.register(CallEvent)
class CallEventAdmin(admin.ModelAdmin):
    list_display = ["call", "type", "offset_ms", "at"]
    list_filter = ["type", "tenant"]
    search_fields = ["call__call_sid", "type"]
    list_select_related = ["call"]

    def has_add_permission(self, request) -> bool:
        return False  # events are recorded by the live call and Twilio's callbacks


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    """Created and edited by the tenant (API); operators see state and may pause a rule."""

    list_display = ["name", "tenant", "metric", "threshold", "window_minutes", "state",
                    "last_value", "enabled"]
    list_filter = ["state", "metric", "enabled", "tenant"]
    search_fields = ["name", "tenant__name"]
    exclude = ["slack_webhook_sealed"]
    readonly_fields = ["tenant", "name", "metric", "threshold", "window_minutes", "min_samples",
                       "email_to", "state", "state_since", "last_value", "last_samples",
                       "last_evaluated_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(AlertTransition)
class AlertTransitionAdmin(admin.ModelAdmin):
    list_display = ["rule", "state", "value", "samples", "at", "tenant"]
    list_filter = ["state", "tenant"]
    list_select_related = ["rule", "tenant"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(CallRollup)
class CallRollupAdmin(admin.ModelAdmin):
    """Computed by beat from the calls (calls.rollups): read-only."""

    list_display = ["hour", "tenant", "agent", "calls", "ended", "errors", "cost_usd",
                    "tool_runs", "tool_failures"]
    list_filter = ["tenant"]
    date_hierarchy = "hour"
    list_select_related = ["tenant", "agent"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    """Created and run by the tenant (API); operators see them and may pause one by status."""

    list_display = ["name", "tenant", "agent", "status", "legal_basis", "max_concurrent",
                    "calls_per_second", "created_at", "finished_at"]
    list_filter = ["status", "legal_basis", "tenant"]
    search_fields = ["name", "tenant__name"]
    list_select_related = ["tenant", "agent"]
    readonly_fields = ["tenant", "agent", "from_number", "import_report", "started_at",
                       "finished_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CampaignContact)
class CampaignContactAdmin(admin.ModelAdmin):
    """A campaign's rows: name and variables are sealed (personal data), not shown."""

    list_display = ["campaign", "row_number", "state", "attempts", "result", "next_attempt_at"]
    list_filter = ["state", "tenant"]
    search_fields = ["campaign__name", "result"]
    list_select_related = ["campaign"]
    readonly_fields = ["tenant", "campaign", "contact", "row_number", "time_zones", "attempts",
                       "result"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):
    """Warm transfers: who was called for which call, and how it went (the conversation kept
    for the caller's return is sealed, not shown)."""

    list_display = ["call", "destination", "state", "person_status", "created_at"]
    list_filter = ["state", "tenant"]
    search_fields = ["destination", "call__call_sid"]
    list_select_related = ["call"]
    readonly_fields = ["tenant", "call", "destination", "target", "state", "conference",
                       "person_call_sid", "person_status", "resumed_stream_sid"]

    def has_add_permission(self, request) -> bool:
        return False
