"""What each call meant, written once after it ends (the spine's CallAnalysis)."""

from __future__ import annotations

from django.db import models

from aybiza.core.models import TenantOwnedModel


class AnalysisStatus(models.TextChoices):
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Sentiment(models.TextChoices):
    POSITIVE = "positive", "Positive"
    NEUTRAL = "neutral", "Neutral"
    NEGATIVE = "negative", "Negative"


class CallAnalysis(TenantOwnedModel):
    """Summary, success against the agent's criteria, extracted fields, sentiment, topics.

    The summary is built from the redacted transcript, so it holds no more than the transcript
    does; the extracted fields may hold what the caller said (a name), so they are sealed with
    the tenant's data key.
    """

    call = models.OneToOneField("calls.Call", on_delete=models.CASCADE, related_name="analysis")
    status = models.CharField(max_length=8, choices=AnalysisStatus.choices)
    analyzer = models.CharField(max_length=32)  # "offline", or the LLM provider that wrote it
    summary = models.TextField(blank=True)
    success = models.BooleanField(null=True)  # None: nothing to judge against
    success_reason = models.CharField(max_length=500, blank=True)
    extracted_sealed = models.TextField(blank=True, editable=False)
    extraction_error = models.CharField(max_length=500, blank=True)
    sentiment = models.CharField(max_length=8, choices=Sentiment.choices, blank=True)
    topics = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name_plural = "call analyses"

    def __str__(self) -> str:
        return f"Analysis of call {self.call_id}"


class EvalScenario(TenantOwnedModel):
    """One conversation an agent must handle, and the checks its answers must pass
    (learning/evaluation.py). The caller either says fixed `caller_lines`, or is simulated
    (learning/simulated_caller.py): a `persona` with a `goal`, played by the agent's cloud model
    when it has one, else by `branches` — what to say when the agent's words contain a text.
    An agent's scenarios are its evaluation suite."""

    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE,
                              related_name="eval_scenarios")
    name = models.CharField(max_length=120)
    caller_lines = models.JSONField(default=list, blank=True)
    persona = models.CharField(max_length=500, blank=True)
    goal = models.CharField(max_length=500, blank=True)
    # [{"when": "day and time", "say": "Tuesday at ten."}]; the one without "when" opens.
    branches = models.JSONField(default=list, blank=True)
    checks = models.JSONField(default=list)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class EvalMode(models.TextChoices):
    TEXT = "text", "Text"  # the brain, turn by turn, no audio (learning/evaluation.py)
    AUDIO = "audio", "Audio"  # phone calls through the media pipeline (learning/audio_eval.py)


class EvalRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"  # the run itself could not finish (not a failing scenario)


class EvalRun(TenantOwnedModel):
    """A suite run against one version (or the draft's snapshot): each scenario's checks with
    what the agent said and did, and the time it took. Text runs finish in the request; audio
    runs take real time (a worker plays each scenario as a call) and are `running` until then."""

    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="eval_runs")
    version = models.ForeignKey("agents.AgentVersion", null=True, on_delete=models.SET_NULL,
                                related_name="+")
    mode = models.CharField(max_length=8, choices=EvalMode.choices, default=EvalMode.TEXT)
    status = models.CharField(max_length=8, choices=EvalRunStatus.choices,
                              default=EvalRunStatus.DONE)
    error = models.CharField(max_length=500, blank=True)
    passed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    results = models.JSONField(default=list)
    duration_ms = models.PositiveIntegerField(default=0)

    @property
    def ok(self) -> bool:
        return self.status == EvalRunStatus.DONE and self.failed == 0

    def __str__(self) -> str:
        return f"Evaluation of {self.agent_id}: {self.passed} passed, {self.failed} failed"


class SuggestionKind(models.TextChoices):
    KNOWLEDGE_ENTRY = "knowledge_entry", "Knowledge entry"
    TOOL_FAILURES = "tool_failures", "Failing tool"
    PROMPT_ADDITION = "prompt_addition", "Prompt addition"  # a task failing at one step
    TURN_TAKING = "turn_taking", "Slow answers"  # and the turn-taking change, when it is that
    MISSING_ACTION = "missing_action", "Missing action"  # callers ask for what no tool does


class SuggestionStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    DISMISSED = "dismissed", "Dismissed"


class Suggestion(TenantOwnedModel):
    """An improvement the learning job found in analysed calls (learning/suggestions.py), with
    its evidence; it reaches callers only when a member accepts it (into the draft) and the
    draft is published through its evaluation gate."""

    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE,
                              related_name="suggestions")
    kind = models.CharField(max_length=20, choices=SuggestionKind.choices)
    status = models.CharField(max_length=10, choices=SuggestionStatus.choices,
                              default=SuggestionStatus.OPEN)
    # The same finding again updates its suggestion instead of adding one.
    fingerprint = models.CharField(max_length=64)
    title = models.CharField(max_length=300)
    proposal = models.JSONField(default=dict)  # e.g. {"question": ..., "answer": ...}
    # {"calls": [ids], "count": n, "examples": [{"call": id, "quote": redacted text}]}
    evidence = models.JSONField(default=dict)
    expected_effect = models.CharField(max_length=500, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["agent", "kind", "fingerprint"],
                                               name="unique_suggestion")]

    def __str__(self) -> str:
        return self.title


class LearningRun(TenantOwnedModel):
    """One pass of the learning job over an agent's analysed calls: the next starts where it
    ended."""

    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE,
                              related_name="learning_runs")
    calls_until = models.DateTimeField()  # calls analysed up to here were read
    calls_read = models.PositiveIntegerField(default=0)
    suggestions = models.PositiveIntegerField(default=0)  # created or updated

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"Learning run {self.pk} of agent {self.agent_id}"
