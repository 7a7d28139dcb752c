"""Live operations over the API: alert rules (`/api/v1/alert-rules/`: thresholds on recent
calls, their state and history; the Slack webhook URL is write-only, stored encrypted) and the
metrics series (`/api/v1/metrics/`, from hourly rollups)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from agents.selectors import agent_get
from aybiza.core.api import MAX_ID, TenantViewSetMixin
from aybiza.core.tenancy import request_tenant
from calls.alerts import (
    MAX_EMAIL_RECIPIENTS,
    alert_rule_create,
    alert_rule_delete,
    alert_rule_update,
    slack_configured,
)
from calls.models import AlertMetric, AlertRule, AlertTransition
from calls.rollups import metrics_series
from calls.selectors import alert_rule_get, alert_rule_list


class AlertRuleSerializer(serializers.ModelSerializer):
    slack_configured = serializers.SerializerMethodField()

    class Meta:
        model = AlertRule
        fields = ["id", "name", "metric", "threshold", "window_minutes", "min_samples",
                  "enabled", "email_to", "slack_configured", "state", "state_since",
                  "last_value", "last_samples", "last_evaluated_at", "created_at"]
        read_only_fields = fields

    def get_slack_configured(self, rule: AlertRule) -> bool:
        return slack_configured(rule)


class AlertRuleWriteSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    metric = serializers.ChoiceField(choices=AlertMetric.choices)
    threshold = serializers.FloatField(min_value=0, max_value=1e6)
    window_minutes = serializers.IntegerField(min_value=1, max_value=1440, required=False)
    min_samples = serializers.IntegerField(min_value=1, max_value=1000, required=False)
    enabled = serializers.BooleanField(required=False)
    email_to = serializers.ListField(child=serializers.EmailField(), required=False,
                                     max_length=MAX_EMAIL_RECIPIENTS)
    slack_webhook_url = serializers.URLField(
        max_length=500, required=False, allow_blank=True, write_only=True,
        help_text="A Slack incoming-webhook URL (https); empty removes it. Never returned.")


class AlertTransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertTransition
        fields = ["id", "state", "value", "samples", "at", "notified"]
        read_only_fields = fields


class AlertRuleViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """Alert rules: p95 voice-to-voice latency, error rate, cost per call or tool failure rate
    over a window, evaluated every minute. A change of state is sent once to the rule's e-mail
    recipients and Slack, and as `alert.firing` / `alert.resolved` to event webhooks."""

    serializer_class = AlertRuleSerializer
    schema_model = AlertRule

    def list(self, request):
        return self.paginated_response(alert_rule_list(tenant=self.tenant), AlertRuleSerializer)

    def retrieve(self, request, pk=None):
        return Response(AlertRuleSerializer(alert_rule_get(tenant=self.tenant, pk=pk)).data)

    @extend_schema(request=AlertRuleWriteSerializer, responses={201: AlertRuleSerializer})
    def create(self, request):
        payload = AlertRuleWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rule = alert_rule_create(tenant=self.tenant, actor=self.actor(),
                                 **payload.validated_data)
        return Response(AlertRuleSerializer(rule).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AlertRuleWriteSerializer, responses=AlertRuleSerializer)
    def partial_update(self, request, pk=None):
        rule = alert_rule_get(tenant=self.tenant, pk=pk)
        payload = AlertRuleWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        alert_rule_update(tenant=self.tenant, rule=rule, actor=self.actor(),
                          **payload.validated_data)
        return Response(AlertRuleSerializer(rule).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        alert_rule_delete(tenant=self.tenant, rule=alert_rule_get(tenant=self.tenant, pk=pk),
                          actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=AlertTransitionSerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        """The rule's changes of state, newest first, with what each notification did."""
        rule = alert_rule_get(tenant=self.tenant, pk=pk)
        rows = AlertTransition.objects.filter(tenant=self.tenant, rule=rule).order_by("-at", "-id")
        return self.paginated_response(rows, AlertTransitionSerializer)


class MetricsQuerySerializer(serializers.Serializer):
    window = serializers.ChoiceField(choices=["24h", "7d", "30d"], default="24h")
    agent = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class MetricsView(APIView):
    """The team's calls over 24 hours (by hour), 7 or 30 days (by day), from hourly rollups:
    calls, errors and error rate, voice-to-voice latency p50/p95 and p95 per stage, tokens
    (with cache reads and writes), cost and cost per call, tool runs and failures. Browser test
    calls are left out. The current hour is at most 5 minutes behind."""

    @extend_schema(parameters=[MetricsQuerySerializer], responses=dict)
    def get(self, request):
        query = MetricsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        tenant = request_tenant(request)
        agent_id = query.validated_data.get("agent")
        if agent_id is not None:
            agent_get(tenant=tenant, pk=agent_id)  # 404 for another team's agent
        return Response(metrics_series(tenant=tenant, window=query.validated_data["window"],
                                       agent_id=agent_id))
