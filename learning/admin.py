"""Call analyses: read-only (written once by the post-call task)."""

from django.contrib import admin

from compliance.admin import ReadOnlyAdmin
from learning.models import CallAnalysis, EvalRun, EvalScenario, LearningRun, Suggestion


@admin.register(CallAnalysis)
class CallAnalysisAdmin(ReadOnlyAdmin):
    list_display = ["call", "success", "sentiment", "analyzer", "status", "created_at", "tenant"]
    list_filter = ["tenant", "status", "success", "sentiment"]
    search_fields = ["summary"]
    exclude = ["extracted_sealed"]


@admin.register(EvalScenario)
class EvalScenarioAdmin(admin.ModelAdmin):
    list_display = ["name", "agent", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name"]


@admin.register(EvalRun)
class EvalRunAdmin(ReadOnlyAdmin):
    list_display = ["agent", "version", "passed", "failed", "duration_ms", "created_at", "tenant"]
    list_filter = ["tenant"]


@admin.register(Suggestion)
class SuggestionAdmin(admin.ModelAdmin):
    list_display = ["title", "agent", "kind", "status", "tenant", "updated_at"]
    list_filter = ["tenant", "kind", "status"]
    search_fields = ["title"]
    readonly_fields = ["tenant", "agent", "kind", "fingerprint", "title", "proposal", "evidence",
                       "expected_effect", "decided_at"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(LearningRun)
class LearningRunAdmin(admin.ModelAdmin):
    list_display = ["agent", "calls_until", "calls_read", "suggestions", "tenant"]
    list_filter = ["tenant"]
    readonly_fields = ["tenant", "agent", "calls_until", "calls_read", "suggestions"]

    def has_add_permission(self, request) -> bool:
        return False
