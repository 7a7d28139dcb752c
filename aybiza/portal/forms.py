"""Portal forms: they carry every rule a user can break, so errors show at the field. Saving goes
through the same services as the REST API (agents.services, aybiza.core.services)."""

from __future__ import annotations

import json
import re

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from agents.models import Agent, KnowledgeEntry
from agents.services import AGENT_FIELDS
from aybiza.core.errors import ApplicationError
from aybiza.core.models import Role, Scope
from calls.campaign_models import LegalBasis
from calls.models import AlertMetric, Direction, Outcome
from memory.services import MAX_NAME_CHARS
from tools.models import AUTH_SECRET_NAMES, Tool

# Services name some fields as the API does; the form names them as the user sees them.
SERVICE_FIELD_ALIASES = {"agent_id": "agent"}


def add_service_errors(form: forms.BaseForm, exc: ApplicationError) -> None:
    """Show a service's ApplicationError on the form: at the field it names, else on top."""
    fields = exc.extra.get("fields") if isinstance(exc.extra, dict) else None
    if not fields:
        form.add_error(None, exc.message)
        return
    for name, messages in fields.items():
        name = SERVICE_FIELD_ALIASES.get(name, name)
        target = name if name in form.fields else None
        for message in messages if isinstance(messages, list | tuple) else [messages]:
            form.add_error(target, str(message))


class LoginForm(AuthenticationForm):
    """Django's login form; `authenticate()` runs the project's lockout backend
    (compliance.auth.LockoutModelBackend), which also refuses a locked-out pair."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "Wrong username or password. After repeated failures, sign-in is "
                         "paused for a few minutes.",
    }


class SectionedForm:
    """A long form shown as titled sections (templates/portal/_form_sections.html)."""

    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Text shown under a section's title, for sections that need explaining.
    section_notes: dict[str, str] = {}

    def grouped_fields(self) -> list[tuple[str, str, list[forms.BoundField]]]:
        return [(title, self.section_notes.get(title, ""), [self[name] for name in names])
                for title, names in self.sections]


class LinesField(forms.CharField):
    """A list of short texts (trigger phrases, keywords) as a textarea, one per line."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value) -> list[str]:
        text = super().to_python(value)
        return [line.strip() for line in text.splitlines() if line.strip()]


class AgentForm(SectionedForm, forms.ModelForm):
    recognition_keywords = LinesField(
        required=False, label="Words your callers say",
        help_text=Agent._meta.get_field("recognition_keywords").help_text + " One per line.",
        widget=forms.Textarea(attrs={"rows": 3}))

    class Meta:
        model = Agent
        fields = list(AGENT_FIELDS)
        widgets = {
            "system_prompt": forms.Textarea(attrs={"rows": 8}),
            "greeting": forms.Textarea(attrs={"rows": 2}),
            "recording_disclosure": forms.Textarea(attrs={"rows": 2}),
            "consent_prompt": forms.Textarea(attrs={"rows": 2}),
            "outbound_greeting": forms.Textarea(attrs={"rows": 2}),
            "voicemail_message": forms.Textarea(attrs={"rows": 3}),
            "success_criteria": forms.Textarea(attrs={"rows": 2}),
            "extraction_schema": forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        }
        labels = {
            "system_prompt": "Instructions (system prompt)",
            "language": "Language (BCP 47, e.g. en-US)",
            "stt_provider": "Speech to text",
            "llm_provider": "Language model",
            "tts_provider": "Text to speech",
            "llm_model": "Model id",
            "end_of_turn_silence_ms": "End of turn after silence (ms)",
            "smart_end_of_turn": "Answer sooner when the caller’s words sound finished",
            "barge_in_min_speech_ms": "Agent pauses when the caller speaks for (ms)",
            "reprompt_after_s": "Ask “are you still there?” after (s)",
            "hangup_after_s": "Hang up after silence (s)",
            "max_call_seconds": "Longest call (s)",
            "reprompt_text": "Re-prompt",
            "goodbye_text": "Goodbye on silence",
            "keep_original_transcripts": "Keep original transcripts (encrypted)",
            "success_criteria": "A successful call…",
            "extraction_schema": "Fields to extract (JSON Schema)",
            "remember_callers": "Remember returning callers",
            "resume_window_minutes": "Resume a dropped call within (minutes)",
            "timezone": "Time zone",
            "business_hours": "Business hours",
            "outbound_greeting": "Greeting on calls the agent places",
            "voicemail_message": "Voicemail message",
        }
        help_texts = {
            "system_prompt": "How the agent behaves: its role, tone, and what it must not do.",
            "keep_original_transcripts": "Transcripts are always stored redacted; with this on, "
                                         "the original words are also kept, encrypted.",
            "greeting": "The first thing callers hear.",
            "status": "Only live agents answer calls.",
            "end_of_turn_silence_ms": "How long a quiet caller is given before the agent "
                                      "answers, when their words cannot tell.",
            "smart_end_of_turn": "A finished sentence is answered after 300 ms of quiet; one "
                                 "that plainly goes on (“my number is five five five…”) "
                                 "gets twice the silence above. A caller who goes on just "
                                 "after the agent began is heard out: it stops and answers the "
                                 "whole sentence. Answers come about 300 ms sooner.",
            "barge_in_min_speech_ms": "Then their words decide: “uh-huh” or a cough lets the "
                                      "agent carry on where it paused; real words interrupt it.",
        }

    # Grouped on the page in this order.
    sections = (
        ("Basics", ("name", "status", "greeting", "system_prompt", "language")),
        ("Business", ("timezone", "business_hours")),
        ("Outbound calls", ("outbound_greeting", "voicemail_message")),
        ("Voice and providers", ("voice", "stt_provider", "recognition_keywords",
                                 "llm_provider", "tts_provider", "llm_model")),
        ("Turn-taking", ("end_of_turn_silence_ms", "smart_end_of_turn", "barge_in_min_speech_ms",
                         "reprompt_after_s", "hangup_after_s", "max_call_seconds",
                         "reprompt_text", "goodbye_text")),
        ("Recording and privacy", ("recording_mode", "recording_disclosure", "consent_prompt",
                                   "keep_original_transcripts")),
        ("After the call", ("success_criteria", "extraction_schema", "remember_callers",
                            "resume_window_minutes")),
    )



class KnowledgeForm(forms.Form):
    """One question and its answer; a row left empty is ignored."""

    question = forms.CharField(
        max_length=KnowledgeEntry._meta.get_field("question").max_length, required=False)
    answer = forms.CharField(
        max_length=KnowledgeEntry._meta.get_field("answer").max_length, required=False,
        widget=forms.Textarea(attrs={"rows": 2}))

    def clean(self) -> dict:
        data = super().clean()
        question, answer = data.get("question", "").strip(), data.get("answer", "").strip()
        if question and not answer:
            self.add_error("answer", "Give the answer to this question.")
        if answer and not question:
            self.add_error("question", "Give the question this answers.")
        return data

    def entry(self) -> dict[str, str] | None:
        question = self.cleaned_data.get("question", "").strip()
        answer = self.cleaned_data.get("answer", "").strip()
        if self.cleaned_data.get("DELETE") or not (question or answer):
            return None
        return {"question": question, "answer": answer}


KnowledgeFormSet = forms.formset_factory(
    KnowledgeForm, extra=1, can_delete=True, max_num=500, validate_max=True, absolute_max=500)


def knowledge_entries(formset: forms.BaseFormSet) -> list[dict[str, str]]:
    return [entry for form in formset.forms if (entry := form.entry()) is not None]


class PhoneNumberForm(forms.Form):
    e164 = forms.CharField(label="Phone number", max_length=32,
                           help_text="In international form, e.g. +15550100000.")
    label = forms.CharField(max_length=100, required=False)
    agent = forms.ModelChoiceField(queryset=Agent.objects.none(), required=False,
                                   empty_label="— not answered by an agent —",
                                   help_text="The agent that answers calls to this number.")

    def __init__(self, *args, agents, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only the tenant's agents are choices: another tenant's id is "not a valid choice".
        self.fields["agent"].queryset = agents


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Where the key is used, e.g. “CRM sync”.")
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, initial=[Scope.READ, Scope.WRITE],
        widget=forms.CheckboxSelectMultiple,
        help_text="Read-only keys cannot change anything. Recordings: download and play call "
                  "recordings.")

    def __init__(self, *args, grantable: list[str] | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if grantable is not None:  # only what this member may hand out
            self.fields["scopes"].choices = [(value, label) for value, label in Scope.choices
                                             if value in grantable]


class CallFilterForm(forms.Form):
    """The call list's filters (GET). Invalid filters show errors and are not applied."""

    started_from = forms.DateField(label="From", required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}))
    started_to = forms.DateField(label="To", required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    agent = forms.ModelChoiceField(queryset=Agent.objects.none(), required=False,
                                   empty_label="All agents")
    direction = forms.ChoiceField(choices=[("", "Any direction"), *Direction.choices],
                                  required=False)
    outcome = forms.ChoiceField(choices=[("", "Any outcome"), *Outcome.choices], required=False)
    q = forms.CharField(label="Transcript contains", max_length=200, required=False)

    def __init__(self, *args, agents, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agent"].queryset = agents

    def clean(self) -> dict:
        data = super().clean()
        start, end = data.get("started_from"), data.get("started_to")
        if start and end and end < start:
            self.add_error("started_to", "The end date is before the start date.")
        return data


# --- tools -------------------------------------------------------------------------------------

# Every secret name an HTTP tool's auth may read (tools.models.AUTH_SECRET_NAMES), write-only.
TOOL_SECRET_FIELDS = tuple(dict.fromkeys(
    name for names in AUTH_SECRET_NAMES.values() for name in names))
SECRET_LABELS = {"token": "Bearer token", "username": "Username (basic)",
                 "password": "Password (basic)", "api_key": "API key",
                 "hmac_secret": "HMAC secret"}


class PrettyJSONField(forms.JSONField):
    """JSON in a textarea, indented for reading; an empty value shows as an empty box."""

    def prepare_value(self, value):
        if value is None or isinstance(value, forms.fields.InvalidJSONInput):
            return "" if value is None else value
        return json.dumps(value, indent=2, ensure_ascii=False)


JSON_WIDGET = forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "class": "code"})


class ToolForm(SectionedForm, forms.ModelForm):
    """A tool's common settings; built-in tools are edited with this form alone."""

    trigger_phrases = LinesField(
        required=False, help_text="Phrases that make the offline brain pick this tool, one per "
                                  "line (cloud LLMs decide from the description).")
    agents = forms.ModelMultipleChoiceField(
        queryset=Agent.objects.none(), required=False, widget=forms.CheckboxSelectMultiple,
        help_text="The agents that may use this tool.")

    class Meta:
        model = Tool
        fields = ["name", "description", "trigger_phrases", "filler_text", "is_active"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
        labels = {"filler_text": "Say while it runs", "is_active": "Active"}
        help_texts = {"description": "What the tool does, for the language model deciding "
                                     "when to call it."}

    sections = (
        ("Basics", ("name", "description", "trigger_phrases", "filler_text", "is_active",
                    "agents")),
    )

    def __init__(self, *args, agents, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agents"].queryset = agents
        if self.instance.pk:
            self.initial.setdefault("agents", [a.pk for a in self.instance.agents.all()])

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def secrets(self) -> dict[str, str] | None:
        return None


class HttpToolForm(ToolForm):
    """An HTTP tool: the request it sends, its JSON Schema, and write-only secrets."""

    class Meta(ToolForm.Meta):
        fields = [*ToolForm.Meta.fields, "parameters", "method", "url_template",
                  "headers_template", "body_mode", "body_template", "auth_type",
                  "auth_header_name", "timeout_ms", "max_retries", "idempotent", "mode"]
        widgets = {**ToolForm.Meta.widgets, "parameters": JSON_WIDGET,
                   "headers_template": forms.Textarea(attrs={"rows": 3, "spellcheck": "false",
                                                             "class": "code"}),
                   "body_template": JSON_WIDGET}
        labels = {**ToolForm.Meta.labels, "parameters": "Arguments (JSON Schema)",
                  "url_template": "URL", "headers_template": "Headers (JSON)",
                  "body_mode": "Body", "body_template": "Body template (JSON)",
                  "auth_type": "Authentication", "auth_header_name": "API key header",
                  "timeout_ms": "Timeout (ms)", "max_retries": "Retries",
                  "idempotent": "Safe to retry (idempotent)"}
        field_classes = {"parameters": PrettyJSONField, "headers_template": PrettyJSONField,
                         "body_template": PrettyJSONField}
        help_texts = {**ToolForm.Meta.help_texts,
                      "parameters": "A JSON Schema object describing the arguments, e.g. "
                                    '{"type": "object", "properties": {"when": {"type": '
                                    '"string"}}, "required": ["when"]}.',
                      "url_template": "https:// address; {argument} placeholders are filled in "
                                      "and escaped."}

    sections = (
        *ToolForm.sections,
        ("Request", ("method", "url_template", "parameters", "headers_template", "body_mode",
                     "body_template", "timeout_ms", "max_retries", "idempotent", "mode")),
        ("Authentication", ("auth_type", "auth_header_name", *TOOL_SECRET_FIELDS)),
    )
    section_notes = {"Authentication": "Fill in only the secret the chosen authentication "
                                       "uses. Secrets are stored encrypted and never shown "
                                       "again; leave a field empty to keep what is stored."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in TOOL_SECRET_FIELDS:
            self.fields[name] = forms.CharField(
                label=SECRET_LABELS.get(name, name), required=False, max_length=4000,
                strip=False, widget=forms.PasswordInput(render_value=False,
                                                        attrs={"autocomplete": "off"}))
        if self.instance.secrets_sealed:
            self.section_notes = {"Authentication": self.section_notes["Authentication"]
                                  + " This tool has secrets stored."}
        if not self.instance.pk:
            self.initial.setdefault("parameters", {"type": "object", "properties": {}})

    def clean_parameters(self):
        return {} if self.cleaned_data["parameters"] is None else self.cleaned_data["parameters"]

    def clean_headers_template(self):
        value = self.cleaned_data["headers_template"]
        return {} if value is None else value

    def secrets(self) -> dict[str, str] | None:
        # Write-only: empty fields keep what is stored.
        given = {name: self.cleaned_data[name] for name in TOOL_SECRET_FIELDS
                 if self.cleaned_data.get(name)}
        return given or None


class ToolTryForm(forms.Form):
    arguments = forms.JSONField(
        initial=dict, widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false",
                                                   "class": "code"}),
        help_text="Sample arguments as JSON. The tool really runs: it sends the request.")

    def clean_arguments(self):
        arguments = self.cleaned_data["arguments"]
        if not isinstance(arguments, dict):
            raise forms.ValidationError("Arguments are a JSON object, e.g. {\"when\": \"10am\"}.")
        return arguments



# --- team --------------------------------------------------------------------------------------

ROLE_HELP = ("Viewers read everything and change nothing; members also edit agents, tools, "
             "numbers and keys; admins also manage the team; owners also manage owners.")


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.MEMBER, help_text=ROLE_HELP)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


# --- compliance ----------------------------------------------------------------------------------


class RetentionForm(forms.Form):
    """Days each kind of data is kept; empty keeps it until deleted by hand."""

    recordings_days = forms.IntegerField(label="Recordings", required=False)
    transcripts_days = forms.IntegerField(label="Transcripts", required=False)
    call_events_days = forms.IntegerField(label="Call events", required=False)
    calls_days = forms.IntegerField(label="Calls (everything about them)", required=False)
    tool_logs_days = forms.IntegerField(label="Tool runs", required=False)
    audit_events_days = forms.IntegerField(label="Audit log", required=False)
    memory_days = forms.IntegerField(label="Callers' memory", required=False,
                                     help_text="Callers not heard from, and remembered facts "
                                               "not confirmed, in that many days are forgotten.")
    campaign_rows_days = forms.IntegerField(
        label="Campaign rows", required=False,
        help_text="Rows of outbound campaigns (names, variables, results), counted from "
                  "when each was settled; rows still to call are kept.")


class SubjectForm(forms.Form):
    phone = forms.CharField(label="Caller's phone number", max_length=32,
                            help_text="As the caller dialled from, e.g. +15550142233.")
    erase = forms.BooleanField(
        required=False, label="Erase this caller's data instead of exporting it",
        help_text="Irreversible: their calls, transcripts, recordings and tool runs are deleted.")


class ContactForm(forms.Form):
    """What a member may change about a caller: their name, and not remembering them at all."""

    name = forms.CharField(max_length=MAX_NAME_CHARS, required=False, label="Name",
                           help_text="How the agent greets them (“Welcome back, Ana!”).")
    do_not_remember = forms.BooleanField(
        required=False, label="Do not remember this caller",
        help_text="Forgets the name and every fact at once, and nothing new is kept.")


class AlertRuleForm(forms.Form):
    """An alert rule (calls.alerts): the threshold and who hears about it."""

    name = forms.CharField(max_length=120, help_text="What the alert says, e.g. “Slow answers”.")
    metric = forms.ChoiceField(label="Watch", choices=AlertMetric.choices)
    threshold = forms.FloatField(min_value=0, max_value=1e6,
                                 help_text="Fires when the value is above this (ms, %, or USD).")
    window_minutes = forms.IntegerField(label="Over the last (minutes)", min_value=1,
                                        max_value=1440, initial=5)
    min_samples = forms.IntegerField(
        label="At least (calls, answers or tool runs)", min_value=1, max_value=1000, initial=3,
        help_text="Fewer than this in the window is not enough to judge by: no alert.")
    enabled = forms.BooleanField(required=False, initial=True)
    email_to = forms.CharField(
        label="E-mail to", required=False, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Addresses, one per line or comma separated (at most 10).")
    slack_webhook_url = forms.URLField(
        label="Slack incoming webhook", required=False, max_length=500, assume_scheme="https",
        widget=forms.URLInput(attrs={"autocomplete": "off"}),
        help_text="https://hooks.slack.com/services/… Stored encrypted, never shown again; "
                  "leave empty to keep the current one.")
    remove_slack = forms.BooleanField(label="Stop posting to Slack", required=False)

    def clean_email_to(self) -> list[str]:
        text = self.cleaned_data["email_to"]
        return [part.strip() for part in re.split(r"[,\s]+", text) if part.strip()]

    def service_fields(self) -> dict:
        data = self.cleaned_data
        fields = {name: data[name] for name in ("name", "metric", "threshold", "window_minutes",
                                                 "min_samples", "enabled", "email_to")}
        if data["remove_slack"]:
            fields["slack_webhook_url"] = ""
        elif data["slack_webhook_url"]:
            fields["slack_webhook_url"] = data["slack_webhook_url"]
        return fields


WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class CampaignForm(forms.Form):
    """A new outbound campaign (calls.campaigns), with its people as a CSV."""

    name = forms.CharField(max_length=120, help_text="E.g. “March check-up reminders”.")
    agent = forms.TypedChoiceField(coerce=int, help_text="A live agent: it talks to each "
                                   "person, with its outbound greeting and voicemail message.")
    from_number = forms.TypedChoiceField(label="Call from", coerce=int)
    legal_basis = forms.ChoiceField(label="Why you may call them", choices=LegalBasis.choices)
    window_start = forms.TimeField(label="Calls from", initial="09:00",
                                   widget=forms.TimeInput(attrs={"type": "time"}),
                                   help_text="In each person's own local time.")
    window_end = forms.TimeField(label="Until", initial="20:00",
                                 widget=forms.TimeInput(attrs={"type": "time"}))
    window_days = forms.TypedMultipleChoiceField(
        label="On", coerce=int, choices=WEEKDAYS, initial=[0, 1, 2, 3, 4],
        widget=forms.CheckboxSelectMultiple)
    max_concurrent = forms.IntegerField(label="Calls at once", min_value=1, max_value=1000,
                                        initial=5)
    calls_per_second = forms.FloatField(
        label="New calls per second", min_value=0.01, max_value=100, initial=1,
        help_text="Keep within your Twilio account's limit (1 for a new account).")
    max_attempts = forms.IntegerField(label="Attempts per person", min_value=1, max_value=10,
                                      initial=3, help_text="Busy, unanswered and "
                                      "machine-answered calls are tried again.")
    retry_delay_minutes = forms.IntegerField(
        label="First retry after (minutes)", min_value=1, max_value=7 * 24 * 60, initial=15,
        help_text="Each later retry waits twice as long.")
    people = forms.FileField(
        label="People to call (CSV)", required=False,
        help_text="A “phone” column (E.164, e.g. +14155550123), “name”, and any other column "
                  "for {{column}} in the agent's lines. You can add more later.")

    def __init__(self, *args, agents=(), numbers=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["agent"].choices = [(a.pk, a.name) for a in agents]
        self.fields["from_number"].choices = [
            (n.pk, f"{n.e164}{' · ' + n.label if n.label else ''}") for n in numbers]

    def service_fields(self) -> dict:
        data = self.cleaned_data
        fields = {name: data[name] for name in (
            "name", "legal_basis", "window_start", "window_end", "window_days",
            "max_concurrent", "calls_per_second", "max_attempts")}
        fields["retry_delay_s"] = data["retry_delay_minutes"] * 60
        return fields


class CampaignRowsForm(forms.Form):
    people = forms.FileField(label="Add people (CSV)")


class DoNotCallForm(forms.Form):
    phone_number = forms.CharField(label="Number", max_length=32,
                                   help_text="E.164, e.g. +14155550123.")
