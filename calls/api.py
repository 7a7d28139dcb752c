"""Read-only REST API for calls: list with filters, detail with turns and events."""

from __future__ import annotations

import phonenumbers
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from agents.selectors import agent_get, phone_number_get
from aybiza.core.api import MAX_ID, TenantViewSetMixin
from aybiza.core.models import ApiKey
from aybiza.core.tenancy import request_tenant_role
from calls.models import Call, CallEvent, CallStatus, Transfer, Turn
from calls.outbound import outbound_call_queue, outbound_target
from calls.recordings import (
    RecordingNotAllowed,
    may_play_recordings,
    recording_audio,
    recording_link,
)
from calls.selectors import call_get, call_list
from calls.services import call_transcript_accessed
from calls.tasks import dialer_kick
from learning.selectors import analysis_extracted, analysis_of


class TurnSerializer(serializers.ModelSerializer):
    class Meta:
        model = Turn
        fields = ["index", "role", "text", "start_ms", "end_ms", "interrupted", "confidence",
                  "stt_final_ms", "llm_first_token_ms", "tts_first_audio_ms", "first_frame_ms",
                  "usage"]


class CallEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = CallEvent
        fields = ["type", "payload", "at", "offset_ms"]


class CallAnalysisSerializer(serializers.Serializer):
    """What the call meant (learning/), written once after it ended; null until then."""

    summary = serializers.CharField()
    success = serializers.BooleanField(allow_null=True)
    success_reason = serializers.CharField()
    sentiment = serializers.CharField()
    topics = serializers.ListField(child=serializers.CharField())
    analyzer = serializers.CharField()
    created_at = serializers.DateTimeField()


class CallAnalysisDetailSerializer(CallAnalysisSerializer):
    extracted = serializers.SerializerMethodField(
        help_text="The agent's extraction schema's fields found in the call.")
    extraction_error = serializers.CharField()

    def get_extracted(self, analysis) -> dict:
        return analysis_extracted(analysis)


class CallSerializer(serializers.ModelSerializer):
    agent_id = serializers.IntegerField(read_only=True, allow_null=True)
    contact_id = serializers.IntegerField(read_only=True, allow_null=True)
    recording_url = serializers.SerializerMethodField()
    analysis = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields = ["id", "call_sid", "stream_sid", "direction", "from_number", "to_number",
                  "status", "agent_id", "contact_id", "started_at", "ended_at",
                  "duration_seconds", "outcome", "answered_by", "recording_url", "metrics",
                  "cost", "analysis"]

    @extend_schema_field(CallAnalysisSerializer(allow_null=True))
    def get_analysis(self, call: Call) -> dict | None:
        analysis = analysis_of(call)
        return CallAnalysisSerializer(analysis).data if analysis else None

    def get_recording_url(self, call: Call) -> str | None:
        # Stored encrypted: served decrypted (and audited) by the call's recording endpoint.
        if not call.recording:
            return None
        return reverse("call-recording", kwargs={"pk": call.pk})


class TransferSerializer(serializers.ModelSerializer):
    class Meta:
        model = Transfer
        fields = ["destination", "state", "person_status", "created_at", "updated_at"]


class RecordingLinkSerializer(serializers.Serializer):
    url = serializers.URLField()
    expires_at = serializers.DateTimeField()


class CallDetailSerializer(CallSerializer):
    turns = TurnSerializer(many=True, read_only=True)
    events = CallEventSerializer(many=True, read_only=True)
    # Warm transfers (calls/transfers.py): who was called, and how it went.
    transfers = TransferSerializer(many=True, read_only=True)

    @extend_schema_field(CallAnalysisDetailSerializer(allow_null=True))
    def get_analysis(self, call: Call) -> dict | None:
        analysis = analysis_of(call)
        return CallAnalysisDetailSerializer(analysis).data if analysis else None

    class Meta(CallSerializer.Meta):
        fields = [*CallSerializer.Meta.fields, "turns", "events", "transfers"]


class CallFilterSerializer(serializers.Serializer):
    """Query parameters of the call list; a bad value is a 400 naming the parameter."""

    status = serializers.ChoiceField(choices=CallStatus.choices, required=False)
    agent = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID,
                                     help_text="Agent id.")
    number = serializers.CharField(required=False, max_length=32,
                                   help_text="E.164 number; matches the caller or the callee.")
    call_sid = serializers.CharField(required=False, max_length=64)
    started_after = serializers.DateTimeField(required=False,
                                              help_text="ISO 8601; calls started at or after.")
    started_before = serializers.DateTimeField(required=False,
                                               help_text="ISO 8601; calls started before.")

    def validate_number(self, value: str) -> str:
        # Stored numbers are E.164 as Twilio sends them; accept the same number typed loosely.
        try:
            parsed = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException:
            raise serializers.ValidationError("Use E.164, e.g. +15550100000.") from None
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    def validate(self, attrs: dict) -> dict:
        after, before = attrs.get("started_after"), attrs.get("started_before")
        if after and before and after >= before:
            raise serializers.ValidationError(
                {"started_before": ["Must be later than started_after."]})
        return attrs


class OutboundCallSerializer(serializers.Serializer):
    agent = serializers.IntegerField(min_value=1, max_value=MAX_ID,
                                     help_text="The live agent that talks.")
    to = serializers.CharField(max_length=32, help_text="Whom to call, E.164.")
    from_number = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False,
        help_text="Id of the tenant's number to call from; default: the agent's first number.")
    variables = serializers.DictField(
        child=serializers.CharField(allow_blank=True), required=False,
        help_text="Text for `{{name}}` placeholders in the agent's outbound greeting, prompt "
                  "and voicemail message.")


class CallViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """Calls of the tenant. Filters: status, agent, number (either side), call_sid, dates.
    POST places an outbound call: it is queued, then dialled through Twilio by the dialer."""

    serializer_class = CallSerializer
    schema_model = Call

    @extend_schema(parameters=[CallFilterSerializer], responses=CallSerializer(many=True))
    def list(self, request):
        filters = CallFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        params = dict(filters.validated_data)
        if "agent" in params:
            params["agent_id"] = params.pop("agent")
        return self.paginated_response(call_list(tenant=self.tenant, **params), CallSerializer)

    @extend_schema(request=OutboundCallSerializer, responses={201: CallSerializer})
    def create(self, request):
        payload = OutboundCallSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        agent = agent_get(tenant=self.tenant, pk=data["agent"])
        from_number = (phone_number_get(tenant=self.tenant, pk=data["from_number"])
                       if "from_number" in data else None)
        target = outbound_target(tenant=self.tenant, agent=agent, to=data["to"],
                                 from_number=from_number)
        call = outbound_call_queue(tenant=self.tenant, agent=agent, target=target,
                                   variables=data.get("variables"), actor=self.actor())
        dialer_kick()
        return Response(CallSerializer(call).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=CallDetailSerializer)
    def retrieve(self, request, pk=None):
        """The call with its transcript (turns) and events; each read is audited."""
        call = call_get(tenant=self.tenant, pk=pk)
        call_transcript_accessed(call=call, actor=self.actor())
        return Response(CallDetailSerializer(call).data)

    @extend_schema(responses={(200, "audio/wav"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def recording(self, request, pk=None):
        """The call's stereo WAV (caller left, agent right), decrypted; each access is audited.
        Members in RECORDING_ROLES (owners and admins by default), keys with `recordings`."""
        call = call_get(tenant=self.tenant, pk=pk)
        self._require_recording_access()
        audio = recording_audio(call=call, actor=self.actor())
        response = HttpResponse(audio, content_type="audio/wav")
        response["Content-Disposition"] = f'attachment; filename="{call.call_sid}.wav"'
        response["Cache-Control"] = "no-store"
        return response

    @extend_schema(responses=RecordingLinkSerializer)
    @action(detail=True, methods=["get"], url_path="recording-link")
    def recording_link(self, request, pk=None):
        """A link that plays the recording without credentials until `expires_at`
        (RECORDING_URL_TTL_S): an S3 presigned URL, or this server's signed link. Audited."""
        call = call_get(tenant=self.tenant, pk=pk)
        self._require_recording_access()
        link = recording_link(call=call, actor=self.actor())
        return Response({"url": request.build_absolute_uri(link.url),
                         "expires_at": link.expires_at})

    def _require_recording_access(self) -> None:
        _, role = request_tenant_role(self.request)
        api_key = self.request.auth if isinstance(self.request.auth, ApiKey) else None
        if not may_play_recordings(role=role, api_key=api_key):
            raise RecordingNotAllowed("Recordings are for the roles in RECORDING_ROLES "
                                      "and keys with the `recordings` scope.")
