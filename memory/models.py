"""Who called, and what the platform remembers about them (per tenant).

A caller is a `Contact`, found by a keyed hash of their E.164 number (the same number calling
two tenants is two unrelated contacts). Free text a caller gave — a name, remembered facts — is
sealed with the tenant's data key; the number itself is sealed too, shown only where the
tenant's calls already show it.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from aybiza.core.models import TenantOwnedModel


class Contact(TenantOwnedModel):
    phone_hash = models.CharField(max_length=64, editable=False)
    phone_sealed = models.TextField(editable=False)
    name_sealed = models.TextField(blank=True, editable=False)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    call_count = models.PositiveIntegerField(default=0)
    # The caller (or the tenant for them) asked not to be remembered: no fact is written.
    do_not_remember = models.BooleanField(default=False)
    # On the tenant's do-not-call list: no outbound call dials this number (checked at dial
    # time, calls/dialer.py).
    do_not_call = models.BooleanField(default=False)
    do_not_call_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "phone_hash"],
                                               name="contact_unique_number_per_tenant")]

    def __str__(self) -> str:
        return f"Contact {self.pk}"


class MemoryFact(TenantOwnedModel):
    """One remembered fact about a contact (the latest value per key wins)."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="facts")
    key = models.CharField(max_length=64)
    value_sealed = models.TextField()
    source_call = models.ForeignKey("calls.Call", null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    confidence = models.FloatField(default=1.0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["contact", "key"],
                                               name="memory_fact_unique_key_per_contact")]

    def __str__(self) -> str:
        return f"{self.key} of contact {self.contact_id}"
