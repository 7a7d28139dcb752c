"""Audit log (hash-chained, append-only), tenant data keys, consents and retention policies."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from aybiza.core.errors import ApplicationError
from aybiza.core.models import BaseModel, Tenant, TenantOwnedModel
from calls.models import Call

PLATFORM_CHAIN = "platform"


def chain_for(tenant_id: int | None) -> str:
    """The audit chain of a tenant, or the platform's for events without one."""
    return f"tenant:{tenant_id}" if tenant_id is not None else PLATFORM_CHAIN


class AuditLogImmutable(ApplicationError):
    status_code = 409
    code = "audit_immutable"


class AppendOnlyQuerySet(models.QuerySet):
    """Refuses bulk edits and deletes; only retention may prune a chain's oldest rows."""

    def update(self, **kwargs):
        raise AuditLogImmutable("Audit events cannot be changed.")

    def delete(self):
        raise AuditLogImmutable("Audit events cannot be deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AuditLogImmutable("Audit events cannot be changed.")

    def bulk_create(self, objs, *args, **kwargs):
        # Rows must be chained one by one by `audit_record`.
        raise AuditLogImmutable("Audit events are written by audit_record only.")

    def _prune(self) -> int:
        """Delete these rows for retention (`retention_enforce` moves the chain base first)."""
        deleted, _ = super().delete()
        return deleted


class AuditChainHead(models.Model):
    """One row per chain, locked while appending so concurrent writers cannot fork it.

    `base_seq`/`base_hash` describe the last row pruned by retention: the chain restarts there.
    """

    chain = models.CharField(max_length=40, unique=True)
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.DO_NOTHING,
                               db_constraint=False, related_name="+")
    last_seq = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="")
    base_seq = models.PositiveBigIntegerField(default=0)
    base_hash = models.CharField(max_length=64, default="")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.chain} @ {self.last_seq}"


class AuditEvent(models.Model):
    """Who did what to which object, when. Holds ids and counts only, never personal data.

    `hash` is SHA-256 over the canonical JSON of the content and `prev_hash`; rows of a tenant
    outlive the tenant (no database constraint), so deleting a tenant keeps its trail.
    """

    chain = models.CharField(max_length=40)
    seq = models.PositiveBigIntegerField()
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.DO_NOTHING,
                               db_constraint=False, related_name="+")
    action = models.CharField(max_length=80, db_index=True)
    actor = models.CharField(max_length=160, default="system")
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_repr = models.CharField(max_length=200, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["chain", "seq"]
        base_manager_name = "objects"
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="unique_audit_chain_seq")
        ]
        indexes = [models.Index(fields=["tenant", "-at"], name="audit_tenant_at")]

    def __str__(self) -> str:
        return f"{self.chain}#{self.seq} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AuditLogImmutable("Audit events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogImmutable("Audit events cannot be deleted.")


class KeyWrapper(models.TextChoices):
    LOCAL = "local", "Local master key"
    KMS = "kms", "AWS KMS"


class TenantDataKey(BaseModel):
    """A tenant's AES-256 data key, stored only wrapped by the master key or by KMS.

    Deleting the tenant deletes its keys, which makes its ciphertexts unreadable (crypto-shred).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    wrapped_key = models.BinaryField()
    wrapped_by = models.CharField(max_length=8, choices=KeyWrapper.choices)
    # Local: a fingerprint of the master key; KMS: the key ARN that wrapped it.
    wrapping_key_id = models.CharField(max_length=300)
    active = models.BooleanField(default=True)
    rewrapped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tenant", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="unique_data_key_version"),
            models.UniqueConstraint(fields=["tenant"], condition=models.Q(active=True),
                                    name="one_active_data_key"),
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} v{self.version} ({self.wrapped_by})"


class ConsentKind(models.TextChoices):
    RECORDING = "recording", "Call recording"
    TRANSCRIPTION = "transcription", "Transcription"
    AI_DISCLOSURE = "ai_disclosure", "Told it is an AI agent"
    DATA_PROCESSING = "data_processing", "Processing of personal data"
    MARKETING = "marketing", "Marketing contact"


class ConsentMethod(models.TextChoices):
    SPEECH = "speech", "Said yes / no"
    DTMF = "dtmf", "Pressed a key"
    IMPLICIT = "implicit", "Stayed on the line after the disclosure"


class ConsentRecord(TenantOwnedModel):
    """A caller's answer to a disclosure during a call; the latest one per kind counts."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="consents")
    kind = models.CharField(max_length=20, choices=ConsentKind.choices)
    granted = models.BooleanField()
    method = models.CharField(max_length=10, choices=ConsentMethod.choices)
    at = models.DateTimeField(default=timezone.now)
    # What the agent said before asking: the evidence of an informed answer.
    disclosure_text = models.TextField(max_length=2000, blank=True)

    class Meta:
        ordering = ["call", "at", "id"]
        indexes = [models.Index(fields=["tenant", "call", "kind"], name="consent_call_kind")]

    def __str__(self) -> str:
        return f"{self.kind}={'yes' if self.granted else 'no'} ({self.method})"


class RetentionPolicy(TenantOwnedModel):
    """How many days each kind of data is kept. Empty means kept until deleted by hand."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE,
                                  related_name="retention_policy")
    recordings_days = models.PositiveIntegerField(null=True, blank=True)
    transcripts_days = models.PositiveIntegerField(null=True, blank=True)
    call_events_days = models.PositiveIntegerField(null=True, blank=True)
    calls_days = models.PositiveIntegerField(null=True, blank=True)
    tool_logs_days = models.PositiveIntegerField(null=True, blank=True)
    audit_events_days = models.PositiveIntegerField(null=True, blank=True)
    # Callers' memory (contacts not heard from, facts not confirmed, within that many days).
    memory_days = models.PositiveIntegerField(null=True, blank=True)
    # Campaign rows (name, variables, result), that long after they were settled.
    campaign_rows_days = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return f"Retention for {self.tenant_id}"


class CallerCall(Call):
    """Admin-only proxy of calls, where staff export or erase a caller's data."""

    class Meta:
        proxy = True
        verbose_name = "caller data (by call)"
        verbose_name_plural = "caller data (by call)"


class ErasureRequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a member"
    ERASED = "erased", "Erased"
    DISMISSED = "dismissed", "Dismissed"


class ErasureRequest(TenantOwnedModel):
    """A caller asked, during a call, to have their data deleted. Filed, not carried out at
    once: caller ID can be spoofed, so a member confirms (erasing everything about the number)
    or dismisses it. The number is kept sealed only while the request is pending."""

    subject_hash = models.CharField(max_length=64, db_index=True)
    phone_sealed = models.TextField(blank=True, editable=False)
    call = models.ForeignKey("calls.Call", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    status = models.CharField(max_length=10, choices=ErasureRequestStatus.choices,
                              default=ErasureRequestStatus.PENDING)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def audit_label(self) -> str:
        return f"Erasure request {self.pk}"
