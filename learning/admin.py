"""Call analyses: read-only (written once by the post-call task)."""

from django.contrib import admin

from compliance.admin import ReadOnlyAdmin
from learning.models import CallAnalysis


@admin.register(CallAnalysis)
class CallAnalysisAdmin(ReadOnlyAdmin):
    list_display = ["call", "success", "sentiment", "analyzer", "status", "created_at", "tenant"]
    list_filter = ["tenant", "status", "success", "sentiment"]
    search_fields = ["summary"]
    exclude = ["extracted_sealed"]
