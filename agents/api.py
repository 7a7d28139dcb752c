"""REST API for agents (with knowledge entries), phone numbers and provider credentials."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from agents.documents_api import (
    DocumentUploadSerializer,
    KnowledgeDocumentSerializer,
    PassageSerializer,
    documents_for_agent,
    search_agent_documents,
)
from agents.models import (
    MAX_PROMPT_CHARS,
    PROVIDER_SECRET_NAMES,
    Agent,
    AgentVersion,
    KnowledgeEntry,
    PhoneNumber,
    ProviderCredential,
    RolloutStatus,
)
from agents.selectors import (
    agent_get,
    agent_list,
    phone_number_get,
    phone_number_list,
    provider_credential_get,
    provider_credential_list,
)
from agents.services import (
    agent_create,
    agent_delete,
    agent_update,
    phone_number_create,
    phone_number_delete,
    phone_number_update,
    provider_credentials_delete,
    provider_credentials_set,
)
from agents.versions import (
    agent_publish,
    agent_rollback,
    draft_has_changes,
    version_diff,
    version_get,
    version_list,
)
from aybiza.core.api import MAX_ID, TenantViewSetMixin
from aybiza.core.models import Role
from aybiza.core.tenancy import request_tenant_role


class KnowledgeEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = KnowledgeEntry
        fields = ["id", "question", "answer"]
        read_only_fields = ["id"]

    def validate(self, attrs: dict) -> dict:
        # A PATCH of the agent is partial, and DRF makes the entries partial too; but `knowledge`
        # replaces the whole list, so every entry needs both halves.
        missing = {name: ["This field is required."] for name in ("question", "answer")
                   if name not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class AgentSerializer(serializers.ModelSerializer):
    knowledge = KnowledgeEntrySerializer(many=True, required=False)
    system_prompt = serializers.CharField(max_length=MAX_PROMPT_CHARS, allow_blank=True,
                                          required=False)

    class Meta:
        model = Agent
        fields = [
            "id", "name", "system_prompt", "greeting", "language", "voice", "stt_provider",
            "llm_provider", "tts_provider", "llm_model", "recognition_keywords", "status",
            "end_of_turn_silence_ms",
            "smart_end_of_turn", "barge_in_min_speech_ms", "reprompt_after_s", "hangup_after_s",
            "max_call_seconds",
            "timezone", "business_hours", "reprompt_text", "goodbye_text", "outbound_greeting",
            "voicemail_message",
            "keep_original_transcripts", "recording_mode",
            "recording_disclosure", "consent_prompt", "success_criteria", "extraction_schema",
            "remember_callers", "resume_window_minutes", "knowledge", "published_version",
            "created_at", "updated_at",
        ]
        read_only_fields = ["id", "published_version", "created_at", "updated_at"]

    published_version = serializers.SerializerMethodField(
        help_text="Number of the version new calls run; null until the agent is published.")

    def get_published_version(self, agent: Agent) -> int | None:
        version = agent.published_version
        return version.number if version else None


class RolloutStartSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    percent = serializers.ChoiceField(choices=[1, 10, 50], default=1)
    override_evaluation = serializers.BooleanField(
        required=False, default=False,
        help_text="Roll out although the version fails its gates: owners only, audited.")


class RolloutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    candidate = serializers.SerializerMethodField()
    stable = serializers.SerializerMethodField()
    percent = serializers.IntegerField()
    status = serializers.CharField()
    history = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()

    def get_candidate(self, rollout) -> int:
        return rollout.candidate.number

    def get_stable(self, rollout) -> int | None:
        return rollout.stable.number if rollout.stable else None


class EvalScenarioSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=120)
    caller_lines = serializers.ListField(child=serializers.CharField(max_length=500),
                                         max_length=20, required=False, default=list,
                                         help_text="What the caller says, turn by turn; or "
                                                   "none, and a simulated caller's goal.")
    persona = serializers.CharField(max_length=500, required=False, default="", allow_blank=True,
                                    help_text="Who the simulated caller is.")
    goal = serializers.CharField(max_length=500, required=False, default="", allow_blank=True,
                                 help_text="What the simulated caller wants; played by the "
                                           "agent's cloud model, or by `branches` offline.")
    branches = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField(max_length=500,
                                                                allow_blank=True)),
        max_length=20, required=False, default=list,
        help_text='Offline script: [{"say": "opening line"}, {"when": "day and time", '
                  '"say": "Tuesday at ten."}]: after each agent turn, the first unused branch '
                  "whose `when` the agent said.")
    checks = serializers.ListField(child=serializers.DictField(), max_length=20)


class EvaluateSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False,
                                       help_text="Version number; the draft when left out.")
    mode = serializers.ChoiceField(
        choices=["text", "audio"], default="text",
        help_text="text: the brain turn by turn, answered now; audio: each scenario as a phone "
                  "call through the media pipeline, played by a worker (202, then poll "
                  "…/evaluations/ or subscribe to `evaluation.finished`).")


class ReplaySerializer(serializers.Serializer):
    calls = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False,
        max_length=50, help_text="Ids of the agent's finished calls; default its 10 latest.")
    version = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False,
                                       help_text="A version's number; default the draft.")


class BehaviourSerializer(serializers.Serializer):
    tools = serializers.ListField(child=serializers.CharField())
    ended = serializers.BooleanField()
    transferred = serializers.BooleanField()
    answer_chars = serializers.IntegerField()


class CallReplaySerializer(serializers.Serializer):
    call_id = serializers.IntegerField()
    caller_turns = serializers.IntegerField()
    original = BehaviourSerializer()
    replayed = BehaviourSerializer()
    differences = serializers.ListField(child=serializers.CharField())


class EvalRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    version = serializers.SerializerMethodField()
    mode = serializers.CharField()
    status = serializers.CharField(help_text="running (audio runs, until played), done, failed "
                                             "(the run could not finish: see error)")
    error = serializers.CharField()
    passed = serializers.IntegerField()
    failed = serializers.IntegerField()
    duration_ms = serializers.IntegerField()
    results = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()

    def get_version(self, run) -> int | None:
        return run.version.number if run.version else None


class AgentVersionSerializer(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()
    published = serializers.SerializerMethodField(
        help_text="Whether new calls run this version.")

    class Meta:
        model = AgentVersion
        fields = ["number", "origin", "note", "checksum", "created_by", "created_at",
                  "published", "snapshot"]
        read_only_fields = fields

    def get_created_by(self, version: AgentVersion) -> str | None:
        return version.created_by.get_username() if version.created_by else None

    def get_published(self, version: AgentVersion) -> bool:
        return version.agent.published_version_id == version.pk


class PublishSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                 help_text="What changed, for the version list.")
    override_evaluation = serializers.BooleanField(
        required=False, default=False,
        help_text="Publish although the evaluation suite fails: owners only, audited.")
    rollout_percent = serializers.ChoiceField(
        choices=[1, 10, 50], required=False, allow_null=True, default=None,
        help_text="Reach this share of new calls first (a staged rollout that advances by "
                  "itself); without it, every new call at once.")


class RollbackSerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=2**31 - 1,
                                       help_text="Number of the version to publish again.")


class ChangeSerializer(serializers.Serializer):
    path = serializers.CharField(help_text='"agent.greeting", "knowledge[question]", '
                                           '"tools[name]"')
    before = serializers.JSONField(allow_null=True)
    after = serializers.JSONField(allow_null=True)


class DiffQuerySerializer(serializers.Serializer):
    # "from" is a keyword in Python: the query names are from/to, read by hand below.
    older = serializers.IntegerField(min_value=1, max_value=2**31 - 1)
    newer = serializers.IntegerField(min_value=1, max_value=2**31 - 1)


class AgentViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """Agents of the caller's tenant. `knowledge` replaces the agent's entries when given."""

    serializer_class = AgentSerializer
    schema_model = Agent

    def list(self, request):
        return self.paginated_response(agent_list(tenant=self.tenant), AgentSerializer)

    def retrieve(self, request, pk=None):
        return Response(AgentSerializer(agent_get(tenant=self.tenant, pk=pk)).data)

    def create(self, request):
        data = self._validated(request.data)
        agent = agent_create(tenant=self.tenant, actor=self.actor(), **data)
        return Response(AgentSerializer(agent_get(tenant=self.tenant, pk=agent.pk)).data,
                        status=status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        agent = agent_get(tenant=self.tenant, pk=pk)
        data = self._validated(request.data, instance=agent, partial=partial)
        agent_update(tenant=self.tenant, agent=agent, actor=self.actor(), **data)
        return Response(AgentSerializer(agent_get(tenant=self.tenant, pk=pk)).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        agent_delete(tenant=self.tenant, agent=agent_get(tenant=self.tenant, pk=pk),
                     actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=AgentVersionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def versions(self, request, pk=None):
        """The agent's versions, newest first: published ones and the draft snapshots calls
        ran before the agent was published."""
        agent = agent_get(tenant=self.tenant, pk=pk)
        versions = version_list(tenant=self.tenant, agent=agent).select_related(
            "agent", "created_by")
        return self.paginated_response(versions, AgentVersionSerializer)

    @extend_schema(responses=AgentVersionSerializer,
                   parameters=[OpenApiParameter("number", int, OpenApiParameter.PATH)])
    @action(detail=True, methods=["get"], url_path=r"versions/(?P<number>[^/.]+)")
    def version(self, request, pk=None, number=None):
        agent = agent_get(tenant=self.tenant, pk=pk)
        return Response(AgentVersionSerializer(
            version_get(tenant=self.tenant, agent=agent, number=number)).data)

    @extend_schema(request=PublishSerializer, responses={201: AgentVersionSerializer})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Freeze the draft into a new version that new calls run (an unchanged draft returns
        the published version), through its gates: the evaluation suite and replay. With
        `rollout_percent` it reaches that share of new calls first (GET …/rollout/)."""
        agent = agent_get(tenant=self.tenant, pk=pk)
        payload = PublishSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        override = payload.validated_data["override_evaluation"]
        if override and request_tenant_role(request)[1] != Role.OWNER:
            raise PermissionDenied("Only an owner may publish past a failing evaluation.")
        version = agent_publish(tenant=self.tenant, agent=agent, actor=self.actor(),
                                note=payload.validated_data.get("note", ""),
                                override_evaluation=override,
                                rollout_percent=payload.validated_data["rollout_percent"])
        return Response(AgentVersionSerializer(version).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=RollbackSerializer, responses=AgentVersionSerializer)
    @action(detail=True, methods=["post"])
    def rollback(self, request, pk=None):
        """Publish an older version again; the draft becomes a copy of it."""
        agent = agent_get(tenant=self.tenant, pk=pk)
        payload = RollbackSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        version = version_get(tenant=self.tenant, agent=agent,
                              number=payload.validated_data["version"])
        version = agent_rollback(tenant=self.tenant, agent=agent, version=version,
                                 actor=self.actor())
        return Response(AgentVersionSerializer(version).data)

    @extend_schema(parameters=[OpenApiParameter("from", int, required=True),
                               OpenApiParameter("to", int, required=True)],
                   responses=ChangeSerializer(many=True))
    @action(detail=True, methods=["get"], url_path="versions-diff")
    def versions_diff(self, request, pk=None):
        """What changed between two versions (`?from=1&to=3`)."""
        agent = agent_get(tenant=self.tenant, pk=pk)
        query = DiffQuerySerializer(data={"older": request.query_params.get("from"),
                                          "newer": request.query_params.get("to")})
        query.is_valid(raise_exception=True)
        older = version_get(tenant=self.tenant, agent=agent, number=query.validated_data["older"])
        newer = version_get(tenant=self.tenant, agent=agent, number=query.validated_data["newer"])
        return Response(ChangeSerializer(version_diff(older, newer), many=True).data)

    @extend_schema(methods=["GET"], responses=inline_serializer(
        "LatestRollout", {"rollout": RolloutSerializer(allow_null=True)}))
    @extend_schema(methods=["POST"], request=RolloutStartSerializer,
                   responses={201: RolloutSerializer})
    @extend_schema(methods=["DELETE"], responses={204: None})
    @action(detail=True, methods=["get", "post", "delete"])
    def rollout(self, request, pk=None):
        """A staged rollout: POST `{"version": 3, "percent": 1}` sends that share of new calls
        to the version (1 → 10 → 50 → 100 %, advanced by the calls' outcomes, rolled back
        automatically) once it passes the publish gates (409 `evaluation_failed` otherwise);
        GET shows the latest (`{"rollout": null}` when none); DELETE stops the
        running one."""
        from agents.rollouts import rollout_active, rollout_roll_back, rollout_start

        agent = agent_get(tenant=self.tenant, pk=pk)
        if request.method == "GET":
            latest = agent.rollouts.order_by("-id").first()
            return Response({"rollout": RolloutSerializer(latest).data if latest else None})
        if request.method == "DELETE":
            running = rollout_active(agent)
            if running is not None:
                rollout_roll_back(rollout=running, why="stopped", actor=self.actor(),
                                  status=RolloutStatus.ABORTED)
            return Response(status=status.HTTP_204_NO_CONTENT)
        payload = RolloutStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        override = payload.validated_data["override_evaluation"]
        if override and request_tenant_role(request)[1] != Role.OWNER:
            raise PermissionDenied("Only an owner may roll out past a failing evaluation.")
        version = version_get(tenant=self.tenant, agent=agent,
                              number=payload.validated_data["version"])
        rollout = rollout_start(tenant=self.tenant, agent=agent, version=version,
                                percent=payload.validated_data["percent"], actor=self.actor(),
                                override_evaluation=override)
        return Response(RolloutSerializer(rollout).data, status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses=EvalScenarioSerializer(many=True))
    @extend_schema(methods=["POST"], request=EvalScenarioSerializer,
                   responses={201: EvalScenarioSerializer})
    @action(detail=True, methods=["get", "post"])
    def scenarios(self, request, pk=None):
        """The agent's evaluation suite: scripted caller lines and the checks its answers must
        pass (types: reply_contains, tool_called, ends_call, transfers, max_turns)."""
        from learning.services import scenario_create

        agent = agent_get(tenant=self.tenant, pk=pk)
        if request.method == "GET":
            return self.paginated_response(agent.eval_scenarios.order_by("id"),
                                           EvalScenarioSerializer)
        payload = EvalScenarioSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        scenario = scenario_create(tenant=self.tenant, agent=agent, actor=self.actor(),
                                   **payload.validated_data)
        return Response(EvalScenarioSerializer(scenario).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=EvaluateSerializer,
                   responses={200: EvalRunSerializer, 202: EvalRunSerializer})
    @action(detail=True, methods=["post"])
    def evaluate(self, request, pk=None):
        """Run the suite against a version (`{"version": 2}`) or the draft as it is: text mode
        now (the agent's brain, no audio), or `{"mode": "audio"}` as phone calls through the
        media pipeline, played by a worker (202; the run is `running` until then). Tools are
        recorded, never executed."""
        from learning.services import evaluation_run

        agent = agent_get(tenant=self.tenant, pk=pk)
        payload = EvaluateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        run = evaluation_run(tenant=self.tenant, agent=agent, actor=self.actor(),
                             version_number=payload.validated_data.get("version"),
                             mode=payload.validated_data["mode"])
        return Response(EvalRunSerializer(run).data, status=status.HTTP_202_ACCEPTED
                        if run.status == "running" else status.HTTP_200_OK)

    @extend_schema(request=ReplaySerializer, responses=CallReplaySerializer(many=True))
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        """Say past calls' caller turns again to a version (`{"version": 2}`) or the draft, and
        report where it would act differently: other tools, another ending, longer answers.
        Text mode; tools are recorded, not run."""
        from learning.services import replay_run

        agent = agent_get(tenant=self.tenant, pk=pk)
        payload = ReplaySerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        replays = replay_run(tenant=self.tenant, agent=agent, actor=self.actor(),
                             call_ids=payload.validated_data.get("calls"),
                             version_number=payload.validated_data.get("version"))
        return Response(CallReplaySerializer([r.as_dict() for r in replays], many=True).data)

    @extend_schema(responses={200: {"type": "object", "properties": {
        "by_version": {"type": "array", "items": {"type": "object"}},
        "by_month": {"type": "array", "items": {"type": "object"}},
        "monthly_change_points": {"type": "number", "nullable": True}}}})
    @action(detail=True, methods=["get"])
    def improvement(self, request, pk=None):
        """Task-success rate (post-call analysis) and average handle time per version and per
        month, with each version's latest evaluation pass rate."""
        from learning.improvement import agent_improvement

        measured = agent_improvement(tenant=self.tenant,
                                     agent=agent_get(tenant=self.tenant, pk=pk))

        def rows(periods):
            return [{"period": p.label, "calls": p.calls, "judged": p.judged,
                     "success_rate": p.success_rate, "avg_handle_s": p.avg_handle_s,
                     "eval_pass_rate": p.eval_pass_rate} for p in periods]

        return Response({"by_version": rows(measured.by_version),
                         "by_month": rows(measured.by_month),
                         "monthly_change_points": measured.monthly_change_points})

    @extend_schema(request=None, responses={200: {"type": "object", "properties": {
        "calls_read": {"type": "integer"}, "suggestions": {"type": "integer"}}}})
    @action(detail=True, methods=["post"])
    def learn(self, request, pk=None):
        """Run the learning job for this agent now (it runs nightly): reads the calls analysed
        since its last run and creates or updates suggestions (GET /api/v1/suggestions/)."""
        from learning.services import learning_run_now

        run = learning_run_now(tenant=self.tenant, actor=self.actor(),
                               agent=agent_get(tenant=self.tenant, pk=pk))
        return Response({"calls_read": run.calls_read, "suggestions": run.suggestions})

    @extend_schema(responses=EvalRunSerializer(many=True))
    @action(detail=True, methods=["get"])
    def evaluations(self, request, pk=None):
        """Past suite runs, newest first."""
        agent = agent_get(tenant=self.tenant, pk=pk)
        return self.paginated_response(agent.eval_runs.order_by("-id"), EvalRunSerializer)

    @extend_schema(responses={200: {"type": "object", "properties": {
        "published_version": {"type": "integer", "nullable": True},
        "draft_has_changes": {"type": "boolean"}}}})
    @action(detail=True, methods=["get"], url_path="draft-status")
    def draft_status(self, request, pk=None):
        """Whether the draft has changes that callers do not hear yet."""
        agent = agent_get(tenant=self.tenant, pk=pk)
        published = agent.published_version
        return Response({"published_version": published.number if published else None,
                         "draft_has_changes": draft_has_changes(agent)})

    @extend_schema(methods=["GET"], responses=KnowledgeDocumentSerializer(many=True))
    @extend_schema(methods=["POST"], request={
        "multipart/form-data": DocumentUploadSerializer,
        "application/json": DocumentUploadSerializer}, responses={201: KnowledgeDocumentSerializer})
    @action(detail=True, methods=["get", "post"])
    def documents(self, request, pk=None):
        """The agent's knowledge documents; POST adds one — a text, Markdown or PDF `file`
        (multipart), or JSON `filename` + `content`. It is cut into passages that calls search
        per caller turn (next calls; a published agent after its next publish)."""
        return documents_for_agent(self, request, pk)

    @extend_schema(responses=PassageSerializer(many=True),
                   parameters=[OpenApiParameter("q", str, required=True,
                                                description="What a caller says")])
    @action(detail=True, methods=["get"], url_path="knowledge-search")
    def knowledge_search(self, request, pk=None):
        """The passages of the agent's documents a caller's words would bring to the answer."""
        return search_agent_documents(self, request, pk)

    @staticmethod
    def _validated(data, instance=None, partial=False) -> dict:
        serializer = AgentSerializer(instance, data=data, partial=partial)
        serializer.is_valid(raise_exception=True)
        validated = dict(serializer.validated_data)
        if "knowledge" in validated:
            validated["knowledge"] = [dict(entry) for entry in validated["knowledge"]]
        return validated


class PhoneNumberSerializer(serializers.ModelSerializer):
    # Longer than E.164's 16 characters: "+1 (555) 010-0000" is accepted and normalised.
    e164 = serializers.CharField(
        max_length=32,
        help_text="E.164 number, e.g. +15550100000. Spaces and punctuation are removed.",
    )
    agent_id = serializers.IntegerField(allow_null=True, required=False, min_value=1,
                                        max_value=MAX_ID,
                                        help_text="The agent that answers; null for none.")

    class Meta:
        model = PhoneNumber
        fields = ["id", "e164", "label", "agent_id", "created_at"]
        read_only_fields = ["id", "created_at"]


class PhoneNumberViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """The tenant's phone numbers (E.164) and the agent each is bound to."""

    serializer_class = PhoneNumberSerializer
    schema_model = PhoneNumber

    def list(self, request):
        return self.paginated_response(phone_number_list(tenant=self.tenant),
                                       PhoneNumberSerializer)

    def retrieve(self, request, pk=None):
        return Response(PhoneNumberSerializer(phone_number_get(tenant=self.tenant, pk=pk)).data)

    def create(self, request):
        serializer = PhoneNumberSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        number = phone_number_create(tenant=self.tenant, actor=self.actor(),
                                     **serializer.validated_data)
        return Response(PhoneNumberSerializer(number).data, status=status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        number = phone_number_get(tenant=self.tenant, pk=pk)
        serializer = PhoneNumberSerializer(number, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        number = phone_number_update(tenant=self.tenant, number=number, actor=self.actor(),
                                     **serializer.validated_data)
        return Response(PhoneNumberSerializer(number).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        phone_number_delete(tenant=self.tenant, number=phone_number_get(tenant=self.tenant, pk=pk),
                            actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)


class ProviderCredentialSerializer(serializers.ModelSerializer):
    secret_names = serializers.ListField(
        child=serializers.CharField(), read_only=True,
        help_text="The secrets that are set. Their values are never returned.")

    class Meta:
        model = ProviderCredential
        fields = ["id", "provider", "secret_names", "created_at", "updated_at"]
        read_only_fields = fields


class ProviderCredentialWriteSerializer(serializers.Serializer):
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True, allow_null=True, max_length=4096),
        write_only=True,
        help_text="Secret values by name: deepgram api_key; bedrock aws_access_key_id, "
                  "aws_secret_access_key, aws_session_token; openai api_key. Merged into the "
                  "stored ones; null or an empty value removes one. Never read back.",
    )


PROVIDER_KEY = OpenApiParameter(
    "id", str, OpenApiParameter.PATH,
    description=f"The credentials' id, or the provider's name: {', '.join(PROVIDER_SECRET_NAMES)}.",
)


class ProviderCredentialViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """The tenant's own Deepgram, Bedrock and OpenAI credentials, used by its calls instead of
    the platform's. Write-only: responses name the secrets that are set, never their values.
    PUT or PATCH `/provider-credentials/deepgram/` sets them (creating the entry on first use)."""

    serializer_class = ProviderCredentialSerializer
    schema_model = ProviderCredential

    def list(self, request):
        return self.paginated_response(provider_credential_list(tenant=self.tenant),
                                       ProviderCredentialSerializer)

    @extend_schema(parameters=[PROVIDER_KEY])
    def retrieve(self, request, pk=None):
        row = provider_credential_get(tenant=self.tenant, key=pk)
        return Response(ProviderCredentialSerializer(row).data)

    @extend_schema(parameters=[PROVIDER_KEY], request=ProviderCredentialWriteSerializer,
                   responses=ProviderCredentialSerializer)
    def update(self, request, pk=None, partial=False):
        provider = self._provider(pk)
        payload = ProviderCredentialWriteSerializer(data=request.data, partial=partial)
        payload.is_valid(raise_exception=True)
        row = provider_credentials_set(tenant=self.tenant, provider=provider, actor=self.actor(),
                                       secrets=payload.validated_data.get("secrets", {}))
        return Response(ProviderCredentialSerializer(row).data)

    @extend_schema(parameters=[PROVIDER_KEY], request=ProviderCredentialWriteSerializer,
                   responses=ProviderCredentialSerializer)
    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(parameters=[PROVIDER_KEY], responses={204: None})
    def destroy(self, request, pk=None):
        provider_credentials_delete(tenant=self.tenant, provider=self._provider(pk),
                                    actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _provider(self, key: str) -> str:
        # A provider's name addresses its credentials before any are set (PUT creates them).
        if key in PROVIDER_SECRET_NAMES:
            return key
        return provider_credential_get(tenant=self.tenant, key=key).provider
