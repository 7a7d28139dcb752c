"""REST API for learning suggestions: list them, accept one (into the agent's draft) or dismiss
it. The job runs nightly, or now with POST /api/v1/agents/{id}/learn/."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from agents.selectors import agent_get
from aybiza.core.api import TenantViewSetMixin
from learning.models import Suggestion, SuggestionStatus
from learning.selectors import suggestion_get, suggestion_list
from learning.services import suggestion_accept, suggestion_dismiss


class SuggestionSerializer(serializers.ModelSerializer):
    class Meta:
        model = Suggestion
        fields = ["id", "agent", "kind", "status", "title", "proposal", "evidence",
                  "expected_effect", "created_at", "updated_at", "decided_at"]
        read_only_fields = fields


class AcceptSerializer(serializers.Serializer):
    answer = serializers.CharField(max_length=4000, required=False, allow_blank=True,
                                   help_text="The knowledge entry's answer (default: the "
                                             "proposed one).")


class LearningRunSerializer(serializers.Serializer):
    calls_read = serializers.IntegerField()
    suggestions = serializers.IntegerField()
    calls_until = serializers.DateTimeField()


class SuggestionViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """What the learning job found in the tenant's analysed calls, with its evidence."""

    serializer_class = SuggestionSerializer
    schema_model = Suggestion

    @extend_schema(parameters=[
        OpenApiParameter("agent", int, description="Only this agent's"),
        OpenApiParameter("status", str, enum=list(SuggestionStatus.values))])
    def list(self, request):
        agent_id = request.query_params.get("agent")
        status = request.query_params.get("status")
        if status and status not in SuggestionStatus.values:
            raise serializers.ValidationError(
                {"status": f"One of {', '.join(SuggestionStatus.values)}."})
        agent = agent_get(tenant=self.tenant, pk=agent_id) if agent_id else None
        return self.paginated_response(
            suggestion_list(tenant=self.tenant, agent=agent, status=status or None),
            SuggestionSerializer)

    def retrieve(self, request, pk=None):
        return Response(SuggestionSerializer(suggestion_get(tenant=self.tenant, pk=pk)).data)

    @extend_schema(request=AcceptSerializer, responses=SuggestionSerializer)
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Accept: a knowledge entry joins the agent's draft (publish it to reach callers)."""
        payload = AcceptSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        suggestion = suggestion_accept(tenant=self.tenant, actor=self.actor(),
                                       suggestion=suggestion_get(tenant=self.tenant, pk=pk),
                                       answer=payload.validated_data.get("answer"))
        return Response(SuggestionSerializer(suggestion).data)

    @extend_schema(request=None, responses=SuggestionSerializer)
    @action(detail=True, methods=["post"])
    def dismiss(self, request, pk=None):
        suggestion = suggestion_dismiss(tenant=self.tenant, actor=self.actor(),
                                        suggestion=suggestion_get(tenant=self.tenant, pk=pk))
        return Response(SuggestionSerializer(suggestion).data)
