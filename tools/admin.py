"""Admin: tools (secrets write-only, a "test" action), runs (read-only), network allowlists."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from aybiza.core.errors import ApplicationError
from tools.models import TOOL_FIELDS, TenantToolSettings, Tool, ToolExecution
from tools.services import tool_secrets_merge, tool_test_run


class ToolAdminForm(forms.ModelForm):
    new_secrets = forms.JSONField(
        required=False, label="Set secrets",
        help_text='Write-only, e.g. {"token": "…"}. Merged into the stored secrets; null removes '
                  "one. Stored secrets are never shown.",
    )

    class Meta:
        model = Tool
        # Everything but secrets_sealed (not editable; written through new_secrets).
        fields = [*TOOL_FIELDS, "tenant", "agents"]

    def clean_new_secrets(self):
        value = self.cleaned_data.get("new_secrets")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError("An object of secret name → value.")
        return value

    def clean(self):
        cleaned = super().clean()
        tenant = cleaned.get("tenant")
        foreign = [a for a in cleaned.get("agents") or [] if tenant and a.tenant_id != tenant.id]
        if foreign:
            self.add_error("agents", "Agents must belong to the tool's tenant.")
        return cleaned


class TestArgumentsForm(forms.Form):
    # Not required: {} (no arguments) counts as empty for a form field.
    arguments = forms.JSONField(required=False, initial=dict,
                                widget=forms.Textarea(attrs={"rows": 8, "cols": 80}))
    confirm = forms.BooleanField(
        required=False, label="Really send",
        help_text="Without it, built-ins that text, e-mail or transfer only say what they "
                  "would send (a dry run).")


@admin.register(Tool)
class ToolAdmin(admin.ModelAdmin):
    form = ToolAdminForm
    list_display = ["name", "tenant", "kind", "method", "auth_type", "mode", "is_active",
                    "updated_at"]
    list_filter = ["kind", "auth_type", "mode", "is_active", "tenant"]
    search_fields = ["name", "description", "url_template"]
    filter_horizontal = ["agents"]
    readonly_fields = ["has_secrets"]
    actions = ["test_tools"]

    @admin.display(boolean=True)
    def has_secrets(self, tool: Tool) -> bool:
        return bool(tool.secrets_sealed)

    def save_model(self, request, obj, form, change):
        secrets = form.cleaned_data.get("new_secrets")
        if secrets:
            try:
                tool_secrets_merge(tool=obj, secrets=secrets)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return
        super().save_model(request, obj, form, change)

    @admin.action(description="Test the selected tools with sample arguments")
    def test_tools(self, request, queryset):
        if "apply" in request.POST:
            form = TestArgumentsForm(request.POST)
            if form.is_valid():
                for tool in queryset:
                    execution = tool_test_run(tenant=tool.tenant, tool=tool,
                                              arguments=form.cleaned_data["arguments"] or {},
                                              confirm=form.cleaned_data["confirm"])
                    level = messages.ERROR if execution.is_error else messages.SUCCESS
                    result = json.dumps(execution.result, ensure_ascii=False)[:500]
                    self.message_user(
                        request, f"{tool.name}: {execution.status} in {execution.latency_ms} ms "
                                 f"(HTTP {execution.http_status or '-'}): {result}", level)
                return None
        else:
            form = TestArgumentsForm()
        return TemplateResponse(request, "admin/tools/tool/test_tools.html", {
            **self.admin_site.each_context(request),
            "title": "Test tools",
            "opts": self.model._meta,
            "tools": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        })


@admin.register(ToolExecution)
class ToolExecutionAdmin(admin.ModelAdmin):
    list_display = ["tool_name", "tenant", "status", "http_status", "latency_ms", "attempts",
                    "call", "created_at"]
    list_filter = ["status", "tenant"]
    search_fields = ["tool_name", "tool_call_id", "error"]
    raw_id_fields = ["tool", "call"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TenantToolSettings)
class TenantToolSettingsAdmin(admin.ModelAdmin):
    list_display = ["tenant", "network_allowlist", "verified_senders", "updated_at"]
    search_fields = ["tenant__name"]
