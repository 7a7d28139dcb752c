from django.contrib import admin

from calls.models import Call, CallEvent, Turn


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
