"""Tools an agent may call (HTTP endpoints or built-ins), their runs, per-tenant network rules."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from aybiza.core.models import Tenant, TenantOwnedModel
from tools.builtin_registry import BUILTINS
from tools.validation import json_mismatch, validate_parameters_schema, validate_trigger_phrases

# LLM vendors accept ^[a-zA-Z0-9_-]{1,64}$; an identifier is safe for all of them.
TOOL_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"


class ToolKind(models.TextChoices):
    HTTP = "http", "HTTP request"
    BUILTIN = "builtin", "Built-in"


class HttpMethod(models.TextChoices):
    GET = "GET", "GET"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"
    DELETE = "DELETE", "DELETE"


class BodyMode(models.TextChoices):
    NONE = "none", "No body"
    TEMPLATE = "template", "JSON template with {arg} placeholders"
    ARGS = "args", "The arguments as JSON (query string for GET/DELETE)"


class AuthType(models.TextChoices):
    NONE = "none", "None"
    BEARER = "bearer", "Bearer token"
    BASIC = "basic", "Basic (username + password)"
    API_KEY_HEADER = "api_key_header", "API key in a header"
    HMAC_SHA256 = "hmac_sha256", "HMAC-SHA256 signature"


# The secret names each auth style reads from the tool's sealed secrets.
AUTH_SECRET_NAMES: dict[str, tuple[str, ...]] = {
    AuthType.NONE: (),
    AuthType.BEARER: ("token",),
    AuthType.BASIC: ("username", "password"),
    AuthType.API_KEY_HEADER: ("api_key",),
    AuthType.HMAC_SHA256: ("hmac_secret",),
}


class ToolMode(models.TextChoices):
    SYNC = "sync", "Wait for the result"
    ASYNC = "async", "Acknowledge at once, run in the background"


class Tool(TenantOwnedModel):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tools")
    name = models.CharField(
        max_length=64,
        validators=[RegexValidator(TOOL_NAME_PATTERN,
                                   "Letters, digits and underscores; not starting with a digit.")],
    )
    description = models.TextField(max_length=1000)
    parameters = models.JSONField(default=dict, blank=True,
                                  help_text="JSON Schema (draft 2020-12) of the arguments.")
    trigger_phrases = models.JSONField(default=list, blank=True)
    kind = models.CharField(max_length=8, choices=ToolKind.choices, default=ToolKind.HTTP)
    builtin_name = models.CharField(max_length=40, blank=True)
    # Per-tool settings of a built-in (transfer destinations, SMS/e-mail recipients...).
    builtin_config = models.JSONField(default=dict, blank=True)

    method = models.CharField(max_length=6, choices=HttpMethod.choices, default=HttpMethod.POST)
    url_template = models.CharField(max_length=2000, blank=True)
    headers_template = models.JSONField(default=dict, blank=True)
    body_mode = models.CharField(max_length=8, choices=BodyMode.choices, default=BodyMode.ARGS)
    body_template = models.JSONField(null=True, blank=True)

    auth_type = models.CharField(max_length=16, choices=AuthType.choices, default=AuthType.NONE)
    auth_header_name = models.CharField(max_length=100, blank=True,
                                        help_text="Header carrying the key (api_key_header).")
    # Sealed JSON object of secret values (see tools/secrets.py); never serialized by the API.
    secrets_sealed = models.TextField(blank=True, editable=False)

    timeout_ms = models.PositiveIntegerField(
        default=5000, validators=[MinValueValidator(100), MaxValueValidator(60_000)])
    max_retries = models.PositiveSmallIntegerField(default=1, validators=[MaxValueValidator(5)])
    idempotent = models.BooleanField(default=False)
    filler_text = models.CharField(max_length=300, blank=True)
    # PCI: an argument (e.g. "card_number") collected by keypad in a secure step of the call;
    # brains never see it, and it is never recorded, transcribed or logged.
    secure_capture_argument = models.CharField(max_length=64, blank=True)
    secure_capture_prompt = models.CharField(
        max_length=300, blank=True,
        default="Please enter your card number on your keypad, then press the pound key.")
    mode = models.CharField(max_length=5, choices=ToolMode.choices, default=ToolMode.SYNC)
    is_active = models.BooleanField(default=True)
    catalog_key = models.CharField(max_length=80, blank=True)

    agents = models.ManyToManyField("agents.Agent", related_name="tools", blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="unique_tool_name_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name

    # Complexity over the limit on purpose: one check per field of a tool, each with its own
    # message.
    def clean(self) -> None:  # noqa: C901
        errors: dict[str, list[str]] = {}
        for field, check in (("parameters", validate_parameters_schema),
                             ("trigger_phrases", validate_trigger_phrases)):
            try:
                check(getattr(self, field))
            except ValidationError as exc:
                errors[field] = exc.messages
        secure = self.secure_capture_argument
        parameters = self.parameters if isinstance(self.parameters, dict) else {}
        properties = parameters.get("properties", {})
        if secure and (not isinstance(properties, dict) or secure not in properties):
            errors["secure_capture_argument"] = [
                "Must name an argument in `parameters` (it is then collected by keypad)."]
        if self.kind == ToolKind.HTTP:
            from tools.executor.render import validate_url_template

            try:
                validate_url_template(self.url_template)
            except ValidationError as exc:
                errors["url_template"] = exc.messages
            if not isinstance(self.headers_template, dict) or not all(
                isinstance(k, str) and isinstance(v, str)
                for k, v in self.headers_template.items()
            ):
                errors["headers_template"] = ["An object of header name → string template."]
            if self.auth_type == AuthType.API_KEY_HEADER and not self.auth_header_name:
                errors["auth_header_name"] = ["Required for api_key_header auth."]
            if self.body_mode == BodyMode.TEMPLATE and self.body_template is None:
                errors["body_template"] = ["Required when the body is a template."]
        else:
            builtin = BUILTINS.get(self.builtin_name)
            if builtin is None:
                errors["builtin_name"] = [f"One of: {', '.join(sorted(BUILTINS))}."]
            else:
                problem = json_mismatch(builtin.config_schema, self.builtin_config)
                if problem:
                    errors["builtin_config"] = [problem]
                elif builtin.check_config is not None and self.tenant_id:
                    problems = builtin.check_config(self.tenant, self.builtin_config)
                    if problems:
                        errors["builtin_config"] = [f"{key}: {message}"
                                                    for key, message in problems.items()]
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs) -> None:
        # The brain trusts this schema on every call: never store one that is not a schema.
        validate_parameters_schema(self.parameters)
        super().save(*args, **kwargs)


# The fields services, the API and catalog templates may set.
TOOL_FIELDS = (
    "name", "description", "parameters", "trigger_phrases", "kind", "builtin_name",
    "builtin_config", "method", "url_template", "headers_template", "body_mode", "body_template",
    "auth_type", "auth_header_name", "timeout_ms", "max_retries", "idempotent", "filler_text",
    "secure_capture_argument", "secure_capture_prompt", "mode", "is_active", "catalog_key",
)


class ExecutionStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    TIMEOUT = "timeout", "Timed out"
    REJECTED = "rejected", "Rejected"


FINISHED_STATUSES = frozenset({ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED,
                               ExecutionStatus.TIMEOUT, ExecutionStatus.REJECTED})


class ToolExecution(TenantOwnedModel):
    """One run of a tool: by the live call (with the LLM's tool_call_id) or a test run."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    # Kept when the tool is deleted: the history stays readable by name.
    tool = models.ForeignKey(Tool, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="executions")
    tool_name = models.CharField(max_length=64)
    call = models.ForeignKey("calls.Call", null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="tool_executions")
    tool_call_id = models.CharField(max_length=128, blank=True)
    # Redacted for display; the real arguments stay encrypted in `sealed_arguments` only until
    # the run finishes, then they are wiped.
    arguments = models.JSONField(default=dict, blank=True)
    sealed_arguments = models.TextField(blank=True, editable=False)
    status = models.CharField(max_length=9, choices=ExecutionStatus.choices,
                              default=ExecutionStatus.QUEUED, db_index=True)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    # What the brain was given (capped, see executor.outcome.RESULT_MAX_CHARS).
    result = models.JSONField(null=True, blank=True)
    # A test run nobody confirmed: side-effecting built-ins (SMS, e-mail, transfer) only report
    # what they would send.
    dry_run = models.BooleanField(default=False)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.tool_name} [{self.status}]"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def is_error(self) -> bool:
        return self.status != ExecutionStatus.SUCCEEDED


class TenantToolSettings(TenantOwnedModel):
    """Per-tenant tool settings. Edited by platform staff only (admin), never by the tenant API:
    opening the private network to one tenant's tools is an operator's decision."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE,
                                  related_name="tool_settings")
    # Host names ("crm.internal", "*.corp.example"), IP networks ("10.1.2.0/24", "127.0.0.1") or
    # exact endpoints ("127.0.0.1:8000", "crm.internal:8443": that port only).
    network_allowlist = models.JSONField(default=list, blank=True)
    # E-mail senders staff verified for this tenant: addresses ("desk@acme.test") or whole
    # domains ("@acme.test"). The send_email built-in sends From one of them, or the platform's.
    verified_senders = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "tenant tool settings"
        verbose_name_plural = "tenant tool settings"

    def __str__(self) -> str:
        return f"Tool settings of {self.tenant}"

    def clean(self) -> None:
        from tools.ssrf import parse_allowlist

        errors: dict[str, list[str]] = {}
        try:
            parse_allowlist(self.network_allowlist)
        except ValueError as exc:
            errors["network_allowlist"] = [str(exc)]
        senders = self.verified_senders
        if not isinstance(senders, list) or not all(
                isinstance(entry, str) and "@" in entry and " " not in entry for entry in senders):
            errors["verified_senders"] = [
                'A list of addresses ("desk@acme.test") or domains ("@acme.test").']
        if errors:
            raise ValidationError(errors)
