"""A warm transfer of one call to a person (calls/transfers.py tells the story)."""

from __future__ import annotations

from django.db import models

from aybiza.core.models import TenantOwnedModel


class TransferState(models.TextChoices):
    DIALING = "dialing", "Calling the person"  # the caller waits on hold
    BRIDGED = "bridged", "Connected"  # the person joined the caller; the agent left
    RETURNED = "returned", "Back with the agent"  # no answer: the caller went back to the agent
    ABANDONED = "abandoned", "Caller hung up on hold"
    FAILED = "failed", "Could not start"


class Transfer(TenantOwnedModel):
    call = models.ForeignKey("calls.Call", on_delete=models.CASCADE, related_name="transfers")
    # Cold: Twilio dials the person straight from the caller's call (<Dial>); warm: the caller
    # waits in a conference while the person is called and briefed.
    mode = models.CharField(max_length=8, choices=[("cold", "Cold"), ("warm", "Warm")],
                            default="warm")
    destination = models.CharField(max_length=100)  # the tool's name for it ("billing")
    target = models.CharField(max_length=255)  # the number or SIP address dialled
    state = models.CharField(max_length=16, choices=TransferState.choices,
                             default=TransferState.DIALING, db_index=True)
    conference = models.CharField(max_length=64, blank=True)
    person_call_sid = models.CharField(max_length=64, blank=True, db_index=True)
    # Why the person was not reached (Twilio's final status of their leg: busy, no-answer...).
    person_status = models.CharField(max_length=24, blank=True)
    # The conversation so far (the session's messages), sealed with the tenant's key: the agent
    # goes on with it when the caller comes back.
    conversation_sealed = models.TextField(blank=True, editable=False)
    # The media stream that took the caller back (its token is single-use, like a call's).
    resumed_stream_sid = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def why_not_reached(self) -> str:
        """The person's final status, in words."""
        return {"no-answer": "no answer", "busy": "line busy", "failed": "call failed",
                "canceled": "cancelled", "completed": "hung up before joining"}.get(
            self.person_status, self.person_status)
