"""Agents (prompt, greeting, voice, providers, turn-taking), their knowledge, and phone numbers."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from aybiza.core.hours import HoursError, parse_hours
from aybiza.core.models import Tenant, TenantOwnedModel
from calls.realtime.providers.registry import choices
from tools.validation import schema_problem

MAX_PROMPT_CHARS = 20_000
# Recognition keywords: Deepgram takes at most 50 keyterms of 60 characters; the offline
# recogniser's model grows with each (four sentences a keyword), so the list stays short.
MAX_KEYWORDS = 50
MAX_KEYWORD_CHARS = 60


class AgentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    LIVE = "live", "Live"


class RecordingMode(models.TextChoices):
    OFF = "off", "Never record"
    ON = "on", "Record (after the disclosure)"
    AFTER_CONSENT = "after_consent", "Record only after the caller consents"


def validate_timezone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not a time zone; use an IANA name such as "
                              "America/New_York or Europe/London.") from exc


def validate_recognition_keywords(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(k, str) and k.strip() for k in value):
        raise ValidationError("A list of words or short phrases, none of them empty.")
    if len(value) > MAX_KEYWORDS:
        raise ValidationError(f"At most {MAX_KEYWORDS} keywords.")
    too_long = [k for k in value if len(k) > MAX_KEYWORD_CHARS]
    if too_long:
        raise ValidationError(f"Keywords are at most {MAX_KEYWORD_CHARS} characters: "
                              f"“{too_long[0][:80]}” is longer.")


def validate_business_hours(value: str) -> None:
    try:
        parse_hours(value)
    except HoursError as exc:
        raise ValidationError(str(exc)) from exc


class Agent(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=120)
    system_prompt = models.TextField(max_length=MAX_PROMPT_CHARS, blank=True)
    greeting = models.CharField(max_length=500, blank=True)
    language = models.CharField(max_length=16, default="en-US")
    voice = models.CharField(max_length=80, blank=True, help_text="Provider-specific voice name.")
    stt_provider = models.CharField(max_length=32, choices=choices("stt"), default="pocketsphinx")
    llm_provider = models.CharField(max_length=32, choices=choices("llm"), default="offline")
    tts_provider = models.CharField(max_length=32, choices=choices("tts"), default="hibari")
    llm_model = models.CharField(max_length=200, blank=True, help_text="Model id for LLM vendors.")
    # Constructor options per provider kind, e.g. {"llm": {"first_token_ms": 400}} for the instant
    # fakes, {"stt": {"fallbacks": ["deepgram"]}}; secrets never go here.
    provider_options = models.JSONField(default=dict, blank=True)
    # Words callers say that no dictionary ranks high: products, places, jargon. The speech
    # recogniser listens for them (calls.realtime.loader.stt_vocabulary).
    recognition_keywords = models.JSONField(
        default=list, blank=True, validators=[validate_recognition_keywords],
        help_text="Words and names your callers say that a recogniser may not expect — "
                  "products, places, jargon (“VPN”, “Invisalign”). Listened for by the speech "
                  "recogniser.")
    status = models.CharField(max_length=8, choices=AgentStatus.choices,
                              default=AgentStatus.DRAFT)

    # Turn-taking, per agent.
    end_of_turn_silence_ms = models.PositiveIntegerField(
        default=700, validators=[MinValueValidator(100), MaxValueValidator(5000)])
    # The caller's words set the end of a turn: finished ones are answered after a short pause,
    # unfinished ones wait longer (calls/realtime/turn_words.py), and a caller who goes on just
    # after the answer began gets it taken back (calls/realtime/continuation.py). Off by
    # default: on a paused sentence the caller may hear the agent start, up to ~0.7 s, before
    # it stops (docs/quality.md).
    smart_end_of_turn = models.BooleanField(default=False)
    barge_in_min_speech_ms = models.PositiveIntegerField(
        default=250, validators=[MinValueValidator(60), MaxValueValidator(3000)])
    reprompt_after_s = models.PositiveIntegerField(
        default=8, validators=[MinValueValidator(2), MaxValueValidator(120)])
    hangup_after_s = models.PositiveIntegerField(
        default=25, validators=[MinValueValidator(5), MaxValueValidator(600)])
    max_call_seconds = models.PositiveIntegerField(
        default=1800, validators=[MinValueValidator(30), MaxValueValidator(4 * 3600)])
    # Compliance policy. Transcripts are always stored redacted; the original words are kept,
    # encrypted, only when this is on.
    keep_original_transcripts = models.BooleanField(default=False)
    recording_mode = models.CharField(max_length=16, choices=RecordingMode.choices,
                                      default=RecordingMode.ON)
    recording_disclosure = models.CharField(
        max_length=500, blank=True,
        default="This call may be recorded for quality and training purposes.",
        help_text="Spoken before the greeting whenever the call is recorded.")
    consent_prompt = models.CharField(
        max_length=500, blank=True,
        default="Is it okay if we record this call? Please say yes or no, or press 1 for yes.",
        help_text="Asked after the disclosure when recording needs the caller's consent.")
    # When and where the business is: the agent books only open times, in its own time zone.
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone],
        help_text="The business's time zone (IANA name, e.g. America/New_York): dates callers "
                  "ask for are read in it.")
    business_hours = models.CharField(
        max_length=300, blank=True, validators=[validate_business_hours],
        help_text="When the business is open, e.g. “Mon-Fri 09:00-17:00; Sat 09:00-13:00”. "
                  "The offline agent books only inside these hours. Empty: any time.")
    reprompt_text = models.CharField(max_length=300, default="Are you still there?")
    # Outbound calls (calls/outbound.py): `{{name}}`-style placeholders take the call's variables.
    outbound_greeting = models.CharField(
        max_length=500, blank=True,
        help_text="What the agent says first when it places the call, e.g. “Hi {{name}}, this "
                  "is Bright Smile calling about your appointment.” Empty: the greeting.")
    voicemail_message = models.CharField(
        max_length=1000, blank=True,
        help_text="Left on an answering machine after the beep, then the agent hangs up. "
                  "Empty: the agent hangs up without a message.")
    goodbye_text = models.CharField(
        max_length=300, default="I haven't heard anything, so I'll end the call now. Goodbye!")
    # Post-call analysis (learning/): read when a call is analysed, not part of what callers
    # hear, so not versioned.
    success_criteria = models.TextField(
        max_length=1000, blank=True,
        help_text="What a successful call achieves, e.g. “an appointment is booked”. Every "
                  "call is judged against it after it ends.")
    extraction_schema = models.JSONField(
        default=dict, blank=True,
        help_text="A JSON Schema of an object: the fields to pull out of every call "
                  "(e.g. the caller's name, the date booked).")
    # Remember callers across calls (memory/): their name and facts, given to the agent.
    remember_callers = models.BooleanField(
        default=True, help_text="Greet returning callers and give the agent what it learned "
                                "about them on earlier calls.")
    # A caller whose call dropped mid-conversation and who rings back within this many minutes
    # carries on where they were (memory/working.py); 0 turns it off. Memory, not versioned.
    resume_window_minutes = models.PositiveIntegerField(
        default=30, validators=[MaxValueValidator(24 * 60)],
        help_text="A caller cut off mid-conversation who rings back within this many minutes "
                  "carries on where they left off. 0 turns it off.")
    # The version new calls run. The fields above are the draft: editing them changes nothing
    # for callers until the draft is published (agents.versions). None: never published, and
    # calls run the draft as it is, each recording a snapshot of what it ran.
    published_version = models.ForeignKey(
        "agents.AgentVersion", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+")

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        schema = self.extraction_schema
        if schema in (None, {}):
            return
        if not isinstance(schema, dict) or schema.get("type") != "object" or not isinstance(
                schema.get("properties"), dict):
            raise ValidationError({"extraction_schema": "A JSON Schema of an object, with "
                                   "“properties”: the fields to extract."})
        problem = schema_problem(schema)
        if problem:
            raise ValidationError({"extraction_schema": problem})


class DocumentKind(models.TextChoices):
    TEXT = "text", "Text"
    MARKDOWN = "markdown", "Markdown"
    PDF = "pdf", "PDF"


class KnowledgeDocument(TenantOwnedModel):
    """An uploaded document the agent answers from: cut into chunks that are searched per turn
    (agents/documents.py; full-text search in agents/knowledge_search.py). The original file is
    not kept: its text lives in the chunks, its checksum here."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=DocumentKind.choices)
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    chunk_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title


class KnowledgeChunk(TenantOwnedModel):
    """A passage of a document, a few paragraphs long, under the nearest heading.

    Searched with SQLite FTS5 (an external-content index kept by triggers) in the embedded
    default and with a stored tsvector and its GIN index on PostgreSQL; both are created by
    this app's migration 0008 for the database in use."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(KnowledgeDocument, on_delete=models.CASCADE,
                                 related_name="chunks")
    index = models.PositiveIntegerField()
    heading = models.CharField(max_length=300, blank=True)
    text = models.TextField()

    class Meta:
        ordering = ["document", "index"]
        constraints = [models.UniqueConstraint(fields=["document", "index"],
                                               name="unique_chunk_index")]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.index}"


class VersionOrigin(models.TextChoices):
    PUBLISHED = "published", "Published"
    # An unpublished draft took a call (a test call, or an agent never published): the
    # snapshot records what that call ran.
    DRAFT = "draft", "Draft snapshot"


class AgentVersion(TenantOwnedModel):
    """What an agent was at one moment: an immutable snapshot calls run and point at.

    `snapshot` holds the agent's fields, its knowledge and its tools' bindings with their
    schemas (agents.versions.agent_snapshot); `checksum` identifies identical snapshots so a
    draft that did not change does not become a new version.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    origin = models.CharField(max_length=12, choices=VersionOrigin.choices)
    snapshot = models.JSONField()
    checksum = models.CharField(max_length=64)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-number"]
        constraints = [models.UniqueConstraint(fields=["agent", "number"],
                                               name="unique_agent_version_number")]

    def __str__(self) -> str:
        return f"{self.agent} v{self.number}"

    def save(self, *args, **kwargs) -> None:
        # Versions are evidence of what calls ran: written once, never changed.
        if not self._state.adding:
            raise ValidationError("An agent version cannot be changed; publish a new one.")
        super().save(*args, **kwargs)


class KnowledgeEntry(TenantOwnedModel):
    """A question the agent can answer and its answer (spoken as is by the offline brain)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="knowledge")
    question = models.CharField(max_length=500)
    answer = models.TextField(max_length=4000)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "knowledge entries"

    def __str__(self) -> str:
        return self.question

    def clean(self) -> None:
        # Forms that leave the tenant out (admin inlines) set it from the agent on save.
        if self.tenant_id and self.agent_id and self.agent.tenant_id != self.tenant_id:
            raise ValidationError({"agent": "The agent belongs to another tenant."})


class PhoneNumber(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="phone_numbers")
    # E.164, unique across the platform: an incoming call must map to exactly one tenant.
    e164 = models.CharField(max_length=16, unique=True)
    label = models.CharField(max_length=100, blank=True)
    agent = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="phone_numbers"
    )

    class Meta:
        ordering = ["e164"]

    def __str__(self) -> str:
        return self.e164

    def clean(self) -> None:
        # A number must never route calls to another tenant's agent.
        if self.tenant_id and self.agent_id and self.agent.tenant_id != self.tenant_id:
            raise ValidationError({"agent": "The agent belongs to another tenant."})


# The secrets a tenant may set per cloud provider: keyword arguments of the provider classes
# (calls/realtime/providers), which use the platform's settings when they are not given.
PROVIDER_SECRET_NAMES: dict[str, tuple[str, ...]] = {
    "deepgram": ("api_key",),
    "bedrock": ("aws_access_key_id", "aws_secret_access_key", "aws_session_token"),
    "openai": ("api_key",),
}


class ProviderCredential(TenantOwnedModel):
    """A tenant's own account with a cloud provider, used instead of the platform's."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE,
                               related_name="provider_credentials")
    provider = models.CharField(max_length=16,
                                choices=[(name, name) for name in PROVIDER_SECRET_NAMES])
    # Which secrets are set (names, never values), so lists and the admin need not decrypt.
    secret_names = models.JSONField(default=list, blank=True)
    # {name: value} as JSON, encrypted with the tenant's data key (agents.services).
    secrets_sealed = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["provider", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "provider"],
                                               name="unique_provider_credential")]

    def __str__(self) -> str:
        return f"{self.provider} credentials"

    @property
    def audit_label(self) -> str:
        return str(self)

    @property
    def sealing_context(self) -> str:
        # Bound into the ciphertext: a sealed value copied to another provider does not open.
        return f"provider-credentials:{self.provider}"


class RolloutStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    ABORTED = "aborted", "Aborted"


class Rollout(TenantOwnedModel):
    """A version reaching callers gradually: `percent` of new calls (chosen by a hash of the
    call sid) run `candidate`, the rest `stable`; advanced or rolled back by
    `learning.advance_rollouts` from the calls each side took (agents/rollouts.py)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="rollouts")
    candidate = models.ForeignKey(AgentVersion, on_delete=models.CASCADE, related_name="+")
    stable = models.ForeignKey(AgentVersion, null=True, on_delete=models.SET_NULL,
                               related_name="+")
    percent = models.PositiveSmallIntegerField(default=10)
    status = models.CharField(max_length=12, choices=RolloutStatus.choices,
                              default=RolloutStatus.ACTIVE, db_index=True)
    step_started_at = models.DateTimeField(default=timezone.now)
    history = models.JSONField(default=list, blank=True)  # [{"at", "percent", "why"}]

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["agent"], condition=models.Q(status="active"),
            name="one_active_rollout_per_agent")]

    def __str__(self) -> str:
        return f"Rollout of v{self.candidate.number} at {self.percent} %"
