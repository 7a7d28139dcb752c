"""Event webhooks over the API: endpoints (the signing secret is returned once), their
deliveries, and redelivery."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from aybiza.core.api import MAX_ID, TenantViewSetMixin
from aybiza.core.errors import NotFound
from aybiza.core.events import WEBHOOK_EVENT_TYPES
from aybiza.core.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from aybiza.core.selectors import webhook_get, webhook_list
from aybiza.core.tasks import deliver_webhook
from aybiza.core.webhooks import (
    delivery_redeliver,
    webhook_create,
    webhook_delete,
    webhook_update,
)


class WebhookSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "description", "event_types", "is_active", "created_at"]
        read_only_fields = ["id", "created_at"]


class WebhookWriteSerializer(serializers.Serializer):
    url = serializers.URLField(max_length=500)
    description = serializers.CharField(max_length=200, allow_blank=True, required=False)
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=[e.value for e in WEBHOOK_EVENT_TYPES]),
        required=False, max_length=len(WEBHOOK_EVENT_TYPES),
        help_text="Event types to receive; empty: all.")
    is_active = serializers.BooleanField(required=False)


class WebhookCreatedSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="The signing secret: shown only now.")

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret"]


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = ["id", "event_id", "event_type", "status", "attempts", "last_status_code",
                  "last_error", "next_attempt_at", "delivered_at", "created_at"]
        read_only_fields = fields


class RedeliverSerializer(serializers.Serializer):
    delivery = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=False,
        help_text="One delivery to send again; without it, every failed one of the endpoint.")


class WebhookViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """The tenant's event webhooks. Each event (`call.started`, `call.completed`,
    `call.analyzed`, `tool.executed`, `provider.auth_failed`, …) is POSTed, signed, to every
    active endpoint subscribed to it, and retried with backoff."""

    serializer_class = WebhookSerializer
    schema_model = WebhookEndpoint

    def list(self, request):
        return self.paginated_response(webhook_list(tenant=self.tenant), WebhookSerializer)

    def retrieve(self, request, pk=None):
        return Response(WebhookSerializer(webhook_get(tenant=self.tenant, pk=pk)).data)

    @extend_schema(request=WebhookWriteSerializer, responses={201: WebhookCreatedSerializer})
    def create(self, request):
        payload = WebhookWriteSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        data.pop("is_active", None)
        created = webhook_create(tenant=self.tenant, actor=self.actor(), **data)
        return Response({**WebhookSerializer(created.endpoint).data, "secret": created.secret},
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookWriteSerializer, responses=WebhookSerializer)
    def partial_update(self, request, pk=None):
        endpoint = webhook_get(tenant=self.tenant, pk=pk)
        payload = WebhookWriteSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        webhook_update(tenant=self.tenant, endpoint=endpoint, actor=self.actor(),
                       **payload.validated_data)
        return Response(WebhookSerializer(endpoint).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        webhook_delete(tenant=self.tenant, endpoint=webhook_get(tenant=self.tenant, pk=pk),
                       actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(responses=DeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The endpoint's deliveries, newest first (status, attempts, the last error)."""
        endpoint = webhook_get(tenant=self.tenant, pk=pk)
        rows = WebhookDelivery.objects.filter(tenant=self.tenant, endpoint=endpoint)
        return self.paginated_response(rows.order_by("-id"), DeliverySerializer)

    @extend_schema(request=RedeliverSerializer, responses={202: None})
    @action(detail=True, methods=["post"])
    def redeliver(self, request, pk=None):
        """Send deliveries again (due now, a fresh attempt budget): the one named, or every
        failed delivery of the endpoint."""
        endpoint = webhook_get(tenant=self.tenant, pk=pk)
        payload = RedeliverSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        rows = WebhookDelivery.objects.filter(tenant=self.tenant, endpoint=endpoint)
        if "delivery" in payload.validated_data:
            rows = rows.filter(pk=payload.validated_data["delivery"])
            if not rows.exists():
                raise NotFound("Delivery not found.")
        else:
            rows = rows.filter(status=DeliveryStatus.FAILED)
        for delivery in rows[:500]:
            delivery_redeliver(tenant=self.tenant, delivery=delivery, actor=self.actor())
            deliver_webhook.delay(delivery.pk)
        return Response(status=status.HTTP_202_ACCEPTED)
