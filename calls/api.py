"""Read-only REST API for calls: list with filters, detail with turns and events."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.response import Response
from rest_framework.settings import api_settings

from aybiza.core.api import TenantViewSetMixin
from calls.models import Call, CallEvent, CallStatus, Turn
from calls.selectors import call_get, call_list


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


class CallSerializer(serializers.ModelSerializer):
    agent_id = serializers.IntegerField(read_only=True, allow_null=True)
    recording_url = serializers.SerializerMethodField()

    class Meta:
        model = Call
        fields = ["id", "call_sid", "stream_sid", "direction", "from_number", "to_number",
                  "status", "agent_id", "started_at", "ended_at", "duration_seconds", "outcome",
                  "recording_url", "metrics", "cost"]

    def get_recording_url(self, call: Call) -> str | None:
        return call.recording.url if call.recording else None


class CallDetailSerializer(CallSerializer):
    turns = TurnSerializer(many=True, read_only=True)
    events = CallEventSerializer(many=True, read_only=True)

    class Meta(CallSerializer.Meta):
        fields = [*CallSerializer.Meta.fields, "turns", "events"]


class CallFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CallStatus.choices, required=False)
    agent = serializers.IntegerField(required=False)
    number = serializers.CharField(required=False)
    call_sid = serializers.CharField(required=False)
    started_after = serializers.DateTimeField(required=False)
    started_before = serializers.DateTimeField(required=False)


class CallViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """Calls of the tenant. Filters: status, agent, number (either side), call_sid, dates."""

    serializer_class = CallSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=CallStatus.values),
            OpenApiParameter("agent", int),
            OpenApiParameter("number", str, description="E.164; matches from or to"),
            OpenApiParameter("call_sid", str),
            OpenApiParameter("started_after", str, description="ISO 8601 datetime"),
            OpenApiParameter("started_before", str, description="ISO 8601 datetime"),
            OpenApiParameter("limit", int),
            OpenApiParameter("offset", int),
        ],
        responses=CallSerializer(many=True),
    )
    def list(self, request):
        filters = CallFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        params = dict(filters.validated_data)
        if "agent" in params:
            params["agent_id"] = params.pop("agent")
        calls = call_list(tenant=self.tenant, **params)
        paginator = api_settings.DEFAULT_PAGINATION_CLASS()
        page = paginator.paginate_queryset(calls, request, view=self)
        return paginator.get_paginated_response(CallSerializer(page, many=True).data)

    @extend_schema(responses=CallDetailSerializer)
    def retrieve(self, request, pk=None):
        return Response(CallDetailSerializer(call_get(tenant=self.tenant, pk=pk)).data)
