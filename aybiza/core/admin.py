from django.contrib import admin

from aybiza.core.models import (
    ApiKey,
    Invitation,
    Membership,
    Tenant,
    WebhookDelivery,
    WebhookEndpoint,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__name"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are created through the API or seed command (the secret is shown once there)."""

    list_display = ["name", "tenant", "prefix", "scopes", "last_used_at", "revoked_at"]
    list_filter = ["tenant", "revoked_at"]
    search_fields = ["name", "prefix", "tenant__name"]
    readonly_fields = ["prefix", "key_hash", "last_used_at", "created_at", "created_by"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    """Invitations are created in the portal's team page (the link is shown once there)."""

    list_display = ["email", "tenant", "role", "expires_at", "accepted_at", "revoked_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["email", "tenant__name"]
    readonly_fields = ["token_hash", "invited_by", "accepted_at", "accepted_by", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Created through the API (the signing secret is shown once there); operators may pause
    one (`is_active`)."""

    list_display = ["url", "tenant", "is_active", "created_at"]
    list_filter = ["is_active", "tenant"]
    search_fields = ["url", "tenant__name"]
    exclude = ["secret_sealed"]
    readonly_fields = ["tenant", "url", "event_types", "description", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event_type", "endpoint", "status", "attempts", "last_status_code",
                    "next_attempt_at", "tenant"]
    list_filter = ["status", "event_type", "tenant"]
    search_fields = ["event_type", "last_error"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
