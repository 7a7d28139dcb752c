"""Call analyses: read-only (written once by the post-call task)."""

from django.contrib import admin

from compliance.admin import ReadOnlyAdmin
from learning.models import CallAnalysis, EvalRun, EvalScenario


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
