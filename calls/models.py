"""Calls, their turns (what was said, with timing) and events (barge-ins, DTMF, errors...)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from aybiza.core.models import Tenant, TenantOwnedModel
from calls.recording_storage import recording_upload_to, recordings_storage


class Direction(models.TextChoices):
    INBOUND = "inbound", "Inbound"
    OUTBOUND = "outbound", "Outbound"
    # A member talking to an agent from the portal (microphone over a WebSocket): the same
    # session as a phone call, with no phone number and no Twilio.
    BROWSER = "browser", "Browser test"
    # An evaluation scenario played as a call in audio mode (learning/audio_eval.py).
    EVAL = "eval", "Evaluation"


# Calls that are members trying their agents, not callers: left out of dashboards, alerts,
# rollouts, learning and the improvement metric.
TEST_DIRECTIONS = (Direction.BROWSER, Direction.EVAL)


class CallStatus(models.TextChoices):
    # Twilio's CallStatus values (PROTOCOLS §1.6).
    QUEUED = "queued", "Queued"
    RINGING = "ringing", "Ringing"
    IN_PROGRESS = "in-progress", "In progress"
    COMPLETED = "completed", "Completed"
    BUSY = "busy", "Busy"
    FAILED = "failed", "Failed"
    NO_ANSWER = "no-answer", "No answer"
    CANCELED = "canceled", "Canceled"


TERMINAL_STATUSES = frozenset({CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.FAILED,
                               CallStatus.NO_ANSWER, CallStatus.CANCELED})


class Outcome(models.TextChoices):
    """How the live conversation ended (set on every exit path of the media stream)."""

    CALLER_HUNG_UP = "caller_hung_up", "Caller hung up"
    AGENT_ENDED = "agent_ended", "Agent ended the call"
    TRANSFERRED = "transferred", "Transferred"
    NO_INPUT = "no_input", "No input from caller"
    MAX_DURATION = "max_duration", "Maximum duration reached"
    DISCONNECTED = "disconnected", "Connection dropped"
    ERROR = "error", "Error"
    SERVER_SHUTDOWN = "server_shutdown", "Server shut down"
    PROTOCOL_VIOLATION = "protocol_violation", "Too many malformed messages"
    REJECTED = "rejected", "Rejected"
    UNKNOWN_NUMBER = "unknown_number", "Number not configured"
    # Outbound calls answered by a machine (answering-machine detection, calls/outbound.py).
    VOICEMAIL = "voicemail", "Left a voicemail"
    MACHINE = "machine", "Machine answered, no message left"


# Outcomes that count as a call failing (alert rules, rollups' error rate).
ERROR_OUTCOMES = (Outcome.ERROR, Outcome.PROTOCOL_VIOLATION)


class Call(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="calls")
    agent = models.ForeignKey("agents.Agent", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="calls")
    # What the call ran (agents.versions.version_for_call): kept when the agent changes later.
    agent_version = models.ForeignKey("agents.AgentVersion", null=True, blank=True,
                                      on_delete=models.SET_NULL, related_name="calls")
    # Who the call is with (memory/): set when it starts; none for withheld numbers and tests.
    contact = models.ForeignKey("memory.Contact", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="calls")
    phone_number = models.ForeignKey("agents.PhoneNumber", null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="calls")
    call_sid = models.CharField(max_length=64, unique=True)
    stream_sid = models.CharField(max_length=64, blank=True)
    direction = models.CharField(max_length=8, choices=Direction.choices,
                                 default=Direction.INBOUND)
    from_number = models.CharField(max_length=32, blank=True, db_index=True)
    to_number = models.CharField(max_length=32, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=CallStatus.choices,
                              default=CallStatus.RINGING, db_index=True)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    stream_started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=24, choices=Outcome.choices, blank=True)
    # Both directions, caller left and agent right (calls/recordings.py).
    recording = models.FileField(upload_to=recording_upload_to, storage=recordings_storage,
                                 blank=True, max_length=200)
    # Outbound calls (calls/outbound.py). Who answered, from Twilio's machine detection:
    # "human", "machine_end_beep", "fax"...
    answered_by = models.CharField(max_length=24, blank=True)
    # The call's variables (a campaign row's name, appointment time...), templated into the
    # greeting and prompt: personal data, so sealed with the tenant's key like a contact's name.
    variables_sealed = models.TextField(blank=True, editable=False)
    # The campaign row this call is an attempt for.
    campaign_contact = models.ForeignKey("calls.CampaignContact", null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="calls")
    # When a dialer took this queued call to place it (a conditional UPDATE: one dialer wins);
    # a claim that never reached Twilio is released after a lease (calls/dialer.py).
    dial_claimed_at = models.DateTimeField(null=True, blank=True)
    # Counters gathered in memory during the call and saved at its end (frames, bad messages...).
    metrics = models.JSONField(default=dict, blank=True)
    # Cost breakdown (audio seconds, tokens, estimate) filled by the providers issue.
    cost = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.call_sid} {self.from_number} → {self.to_number}"

    @property
    def analysis_or_none(self):
        """The post-call analysis (learning/), or None before it is written; for templates,
        where the missing one-to-one would raise."""
        try:
            return self.analysis
        except models.ObjectDoesNotExist:
            return None


class Role(models.TextChoices):
    CALLER = "caller", "Caller"
    AGENT = "agent", "Agent"


def _analysis_or_none(call: Call):
    """The call's analysis or None, for templates (a missing one-to-one raises otherwise)."""
    try:
        return call.analysis
    except models.ObjectDoesNotExist:
        return None


Call.analysis_or_none = property(_analysis_or_none)


class Turn(TenantOwnedModel):
    """One utterance. Offsets are ms since the stream started; latencies are ms.

    Latency breakdown of an agent turn, each measured from the end of the caller's speech:
    stt_final_ms → llm_first_token_ms → tts_first_audio_ms → first_frame_ms (what the caller feels).
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="turns")
    index = models.PositiveIntegerField()
    role = models.CharField(max_length=8, choices=Role.choices)
    text = models.TextField(blank=True)
    start_ms = models.PositiveIntegerField(default=0)
    end_ms = models.PositiveIntegerField(default=0)
    interrupted = models.BooleanField(default=False)
    confidence = models.FloatField(null=True, blank=True)
    stt_final_ms = models.PositiveIntegerField(null=True, blank=True)
    llm_first_token_ms = models.PositiveIntegerField(null=True, blank=True)
    tts_first_audio_ms = models.PositiveIntegerField(null=True, blank=True)
    first_frame_ms = models.PositiveIntegerField(null=True, blank=True)
    # Provider usage for this turn (tokens, cache reads, audio seconds).
    usage = models.JSONField(default=dict, blank=True)
    # `text` is always redacted; these say what was removed (kinds only) and, when the agent's
    # policy keeps originals, hold the original encrypted with the tenant's data key.
    redactions = models.JSONField(default=list, blank=True)
    text_encrypted = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["call", "index"]
        constraints = [models.UniqueConstraint(fields=["call", "index"], name="unique_turn_index")]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:60]}"


class CallEvent(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=40, db_index=True)
    payload = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)
    offset_ms = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["call", "at", "id"]

    def __str__(self) -> str:
        return f"{self.type} @ {self.offset_ms} ms"


class AlertMetric(models.TextChoices):
    """What an alert rule watches, over its window of recent calls."""

    LATENCY_P95_MS = "latency_p95_ms", "p95 voice-to-voice latency (ms)"
    ERROR_RATE_PCT = "error_rate_pct", "Calls ending in an error (%)"
    COST_PER_CALL_USD = "cost_per_call_usd", "Average cost per call (USD)"
    TOOL_FAILURE_RATE_PCT = "tool_failure_rate_pct", "Tool runs failing (%)"


class AlertState(models.TextChoices):
    OK = "ok", "OK"
    FIRING = "firing", "Firing"


class AlertRule(TenantOwnedModel):
    """Fires when `metric` over the last `window_minutes` is above `threshold` (with at least
    `min_samples` calls, turns or tool runs to judge by); resolves when it is not. Evaluated by
    beat each minute (`calls.evaluate_alerts`); each change of state is notified once."""

    name = models.CharField(max_length=120)
    metric = models.CharField(max_length=32, choices=AlertMetric.choices)
    threshold = models.FloatField()
    window_minutes = models.PositiveSmallIntegerField(default=5)
    min_samples = models.PositiveSmallIntegerField(default=3)
    enabled = models.BooleanField(default=True)
    # Where a change of state goes besides the tenant's event webhooks (alert.firing/resolved).
    email_to = models.JSONField(default=list, blank=True)
    slack_webhook_sealed = models.TextField(blank=True, editable=False)  # tenant-key encrypted
    state = models.CharField(max_length=8, choices=AlertState.choices, default=AlertState.OK)
    last_value = models.FloatField(null=True, blank=True)
    last_samples = models.PositiveIntegerField(default=0)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    state_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    @property
    def audit_label(self) -> str:
        return f"Alert rule {self.pk}: {self.name}"[:200]

    def __str__(self) -> str:
        return self.name


class AlertTransition(TenantOwnedModel):
    """A rule's change of state, as notified: the alert's history."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="transitions")
    state = models.CharField(max_length=8, choices=AlertState.choices)
    value = models.FloatField(null=True, blank=True)
    samples = models.PositiveIntegerField(default=0)
    at = models.DateTimeField(default=timezone.now)
    # Per channel: "sent", "skipped" or the error (never the Slack URL itself).
    notified = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]


class CallRollup(TenantOwnedModel):
    """One hour of one agent's calls, summed (calls.rollups): what dashboards and the metrics
    API read for days and months, kept long after the raw call events are pruned. Latencies are
    kept as histograms (counts per bucket of `calls.rollups.LATENCY_BUCKETS_MS`) so that hours
    add up into days with percentiles intact."""

    agent = models.ForeignKey("agents.Agent", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    hour = models.DateTimeField(db_index=True)
    calls = models.PositiveIntegerField(default=0)  # started in the hour
    ended = models.PositiveIntegerField(default=0)  # ended in the hour
    errors = models.PositiveIntegerField(default=0)
    outcomes = models.JSONField(default=dict, blank=True)  # outcome -> count (ended)
    duration_s = models.PositiveIntegerField(default=0)
    latency = models.JSONField(default=dict, blank=True)  # stage -> bucket counts
    tokens = models.JSONField(default=dict, blank=True)  # input/output/cache_read/cache_write
    cost_usd = models.FloatField(default=0.0)
    tool_runs = models.PositiveIntegerField(default=0)
    tool_failures = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["hour", "id"]
        indexes = [models.Index(fields=["tenant", "hour"])]


from calls.campaign_models import Campaign, CampaignContact, CampaignStatus, ContactState  # noqa: E402, F401, I001
from calls.transfer_models import Transfer, TransferState  # noqa: E402, F401, I001
