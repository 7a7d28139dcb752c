"""Contacts and their memory: read-only for operators (sealed values stay sealed here; tenants
edit names and the opt-out through the API, which audits it)."""

from django.contrib import admin

from compliance.admin import ReadOnlyAdmin
from memory.models import Contact, MemoryFact


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "call_count", "first_seen_at", "last_seen_at",
                    "do_not_remember"]
    list_filter = ["tenant", "do_not_remember"]
    exclude = ["phone_sealed", "name_sealed"]


@admin.register(MemoryFact)
class MemoryFactAdmin(ReadOnlyAdmin):
    list_display = ["contact", "key", "source_call", "confidence", "updated_at", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["key"]
    exclude = ["value_sealed"]
