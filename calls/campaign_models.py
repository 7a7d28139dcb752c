"""Outbound campaigns: a list of people an agent calls, within hours, at a pace, with retries.

Each row (CampaignContact) is dialled by the dialer (calls/dialer.py); every attempt is a Call
(`Call.campaign_contact`). Imported by `calls.models`, so Django finds these models there.
"""

from __future__ import annotations

import datetime

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from aybiza.core.models import Tenant, TenantOwnedModel

# Sealing context of a row's name (compliance.crypto).
CAMPAIGN_NAME_CONTEXT = "calls.campaign-name"


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    CANCELLED = "cancelled", "Cancelled"
    COMPLETED = "completed", "Completed"


class LegalBasis(models.TextChoices):
    """Why the tenant may call these people (GDPR art. 6; TCPA consent for marketing)."""

    CONSENT = "consent", "The person consented to be called"
    EXISTING_CUSTOMER = "existing_customer", "Existing customer relationship"
    CONTRACT = "contract", "Performance of a contract (e.g. an appointment reminder)"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest"


def _weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class Campaign(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="campaigns")
    name = models.CharField(max_length=120)
    agent = models.ForeignKey("agents.Agent", on_delete=models.PROTECT, related_name="campaigns")
    from_number = models.ForeignKey("agents.PhoneNumber", on_delete=models.PROTECT,
                                    related_name="campaigns")
    status = models.CharField(max_length=12, choices=CampaignStatus.choices,
                              default=CampaignStatus.DRAFT, db_index=True)
    legal_basis = models.CharField(max_length=24, choices=LegalBasis.choices)
    # Calls go out only inside this window of the callee's local time (their number's zone).
    window_start = models.TimeField(default=datetime.time(9, 0))
    window_end = models.TimeField(default=datetime.time(20, 0))
    window_days = models.JSONField(default=_weekdays, help_text="0 = Monday … 6 = Sunday.")
    max_concurrent = models.PositiveIntegerField(
        default=5, validators=[MinValueValidator(1), MaxValueValidator(1000)])
    calls_per_second = models.FloatField(
        default=1.0, validators=[MinValueValidator(0.01), MaxValueValidator(100.0)])
    max_attempts = models.PositiveIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(10)])
    # Before attempt n+1 after a busy or unanswered attempt n: retry_delay_s × 2^(n-1).
    retry_delay_s = models.PositiveIntegerField(
        default=900, validators=[MinValueValidator(1), MaxValueValidator(7 * 24 * 3600)])
    # Rows the upload refused, with why: {"accepted": n, "rejected": [{"row": 3, ...}]}.
    import_report = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class ContactState(models.TextChoices):
    PENDING = "pending", "Waiting to be called"
    CALLING = "calling", "Call in progress"
    ANSWERED = "answered", "Answered"
    VOICEMAIL = "voicemail", "Voicemail left"
    FAILED = "failed", "Not reached"
    DO_NOT_CALL = "do_not_call", "On the do-not-call list"
    CANCELLED = "cancelled", "Cancelled"


FINAL_CONTACT_STATES = frozenset({ContactState.ANSWERED, ContactState.VOICEMAIL,
                                  ContactState.FAILED, ContactState.DO_NOT_CALL,
                                  ContactState.CANCELLED})


class CampaignContact(TenantOwnedModel):
    """One row of a campaign: whom to call (the number lives sealed on the Contact)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="rows")
    contact = models.ForeignKey("memory.Contact", on_delete=models.CASCADE,
                                related_name="campaign_rows")
    row_number = models.PositiveIntegerField(help_text="Line in the uploaded CSV.")
    # Name and variables, sealed with the tenant's key (personal data).
    name_sealed = models.TextField(blank=True, editable=False)
    variables_sealed = models.TextField(blank=True, editable=False)
    # The callee's possible time zones from their number (space-separated; a call goes out only
    # when it is inside the window in all of them).
    time_zones = models.CharField(max_length=200)
    state = models.CharField(max_length=12, choices=ContactState.choices,
                             default=ContactState.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The last attempt's Twilio status or outcome, e.g. "busy", "no-answer", "voicemail".
    result = models.CharField(max_length=24, blank=True)

    class Meta:
        ordering = ["campaign_id", "row_number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "contact"],
                                               name="campaign_contact_once")]
        indexes = [models.Index(fields=["campaign", "state", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"Row {self.row_number} of campaign {self.campaign_id}"
