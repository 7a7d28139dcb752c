from django import forms
from django.contrib import admin

from agents.models import (
    Agent,
    AgentVersion,
    KnowledgeChunk,
    KnowledgeDocument,
    KnowledgeEntry,
    PhoneNumber,
    ProviderCredential,
    Rollout,
)
from agents.services import normalize_e164, provider_credentials_delete
from aybiza.core.errors import ApplicationError


class KnowledgeInline(admin.TabularInline):
    model = KnowledgeEntry
    extra = 0
    exclude = ["tenant"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "status", "stt_provider", "llm_provider", "tts_provider",
                    "updated_at"]
    list_filter = ["status", "tenant", "stt_provider", "llm_provider", "tts_provider"]
    search_fields = ["name", "system_prompt", "greeting"]
    inlines = [KnowledgeInline]

    def save_formset(self, request, form, formset, change):
        # Inline knowledge rows inherit the agent's tenant.
        for row in formset.save(commit=False):
            row.tenant_id = form.instance.tenant_id
            row.save()
        for row in formset.deleted_objects:
            row.delete()


@admin.register(KnowledgeEntry)
class KnowledgeEntryAdmin(admin.ModelAdmin):
    list_display = ["question", "agent", "tenant"]
    list_filter = ["tenant", "agent"]
    search_fields = ["question", "answer", "agent__name"]
    list_select_related = ["agent", "tenant"]
    exclude = ["tenant"]

    def save_model(self, request, obj, form, change):
        # An entry always belongs to its agent's tenant.
        obj.tenant_id = obj.agent.tenant_id
        super().save_model(request, obj, form, change)


class PhoneNumberForm(forms.ModelForm):
    # Wider than the stored 16 characters so "+1 (555) 010-0000" reaches normalisation.
    e164 = forms.CharField(
        max_length=32, label="Number",
        help_text="E.164, e.g. +15550100000; spaces and punctuation are removed.")

    class Meta:
        model = PhoneNumber
        fields = ["tenant", "e164", "label", "agent"]

    def clean_e164(self) -> str:
        try:
            return normalize_e164(self.cleaned_data["e164"])
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from exc


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    """Numbers are normalised and validated as the API does (agents.services.normalize_e164)."""

    form = PhoneNumberForm
    list_display = ["e164", "label", "agent", "tenant"]
    list_filter = ["tenant", ("agent", admin.EmptyFieldListFilter)]
    search_fields = ["e164", "label", "agent__name"]
    list_select_related = ["agent", "tenant"]


@admin.register(ProviderCredential)
class ProviderCredentialAdmin(admin.ModelAdmin):
    """Which secrets a tenant set, never their values. Tenants set them through the API; here
    they can only be removed (through the service, so the removal is audited)."""

    list_display = ["provider", "tenant", "secret_names", "updated_at"]
    list_filter = ["provider", "tenant"]
    search_fields = ["tenant__name", "provider"]
    list_select_related = ["tenant"]
    fields = readonly_fields = ["tenant", "provider", "secret_names", "created_at", "updated_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def delete_model(self, request, obj):
        provider_credentials_delete(tenant=obj.tenant, provider=obj.provider, actor=request.user)

    def delete_queryset(self, request, queryset):
        for row in queryset.select_related("tenant"):
            self.delete_model(request, row)


@admin.register(AgentVersion)
class AgentVersionAdmin(admin.ModelAdmin):
    """Versions are history: shown, never edited or added here (publish from the portal/API)."""

    list_display = ["agent", "number", "origin", "note", "created_by", "created_at"]
    list_filter = ["origin", "tenant"]
    search_fields = ["agent__name", "note"]
    list_select_related = ["agent", "created_by"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Rollout)
class RolloutAdmin(admin.ModelAdmin):
    """Started and stopped through the API (each step audited); read-only here."""

    list_display = ["agent", "candidate", "stable", "percent", "status", "updated_at", "tenant"]
    list_filter = ["status", "tenant"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(KnowledgeDocument)
class KnowledgeDocumentAdmin(admin.ModelAdmin):
    """Read and delete only: uploads go through agents.documents (checks, chunks, audit)."""

    list_display = ["title", "agent", "tenant", "kind", "chunk_count", "size_bytes", "created_at"]
    list_filter = ["tenant", "kind"]
    search_fields = ["title"]
    readonly_fields = ["tenant", "agent", "title", "kind", "size_bytes", "sha256", "chunk_count"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(KnowledgeChunk)
class KnowledgeChunkAdmin(admin.ModelAdmin):
    list_display = ["document", "index", "heading", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["heading"]
    readonly_fields = ["tenant", "document", "index", "heading", "text"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
