from django.contrib import admin

from agents.models import Agent, KnowledgeEntry, PhoneNumber


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
    search_fields = ["question", "answer"]


@admin.register(PhoneNumber)
class PhoneNumberAdmin(admin.ModelAdmin):
    list_display = ["e164", "label", "agent", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["e164", "label"]
