"""Campaigns over the API: create, upload people (CSV), start / pause / resume / cancel, follow
the progress, list the rows, export the results as CSV."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import BaseParser
from rest_framework.response import Response
from rest_framework.settings import api_settings

from agents.selectors import agent_get, phone_number_get
from aybiza.core.api import TenantViewSetMixin
from aybiza.core.errors import ApplicationError
from calls.campaign_models import Campaign, LegalBasis
from calls.campaigns import (
    campaign_cancel,
    campaign_create,
    campaign_export_csv,
    campaign_import_csv,
    campaign_pause,
    campaign_progress,
    campaign_resume,
    campaign_start,
)
from calls.selectors import campaign_get, campaign_list, campaign_row_name, campaign_rows
from calls.tasks import dialer_kick
from memory.selectors import contact_phone


class CampaignSerializer(serializers.ModelSerializer):
    agent_id = serializers.IntegerField(read_only=True)
    from_number = serializers.CharField(source="from_number.e164", read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = ["id", "name", "agent_id", "from_number", "status", "legal_basis",
                  "window_start", "window_end", "window_days", "max_concurrent",
                  "calls_per_second", "max_attempts", "retry_delay_s", "import_report",
                  "progress", "created_at", "started_at", "finished_at"]
        read_only_fields = fields

    def get_progress(self, campaign: Campaign) -> dict:
        return campaign_progress(campaign)


class CampaignCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=120)
    agent = serializers.IntegerField(min_value=1, help_text="The agent that talks.")
    from_number = serializers.IntegerField(min_value=1,
                                           help_text="Id of the tenant's number to call from.")
    legal_basis = serializers.ChoiceField(choices=LegalBasis.choices)
    window_start = serializers.TimeField(required=False,
                                         help_text="Callee's local time, e.g. 09:00.")
    window_end = serializers.TimeField(required=False)
    window_days = serializers.ListField(child=serializers.IntegerField(), required=False,
                                        help_text="0 = Monday … 6 = Sunday.")
    max_concurrent = serializers.IntegerField(required=False)
    calls_per_second = serializers.FloatField(required=False)
    max_attempts = serializers.IntegerField(required=False)
    retry_delay_s = serializers.IntegerField(required=False)


class CampaignRowSerializer(serializers.Serializer):
    row_number = serializers.IntegerField()
    phone_number = serializers.SerializerMethodField()
    name = serializers.SerializerMethodField()
    state = serializers.CharField()
    attempts = serializers.IntegerField()
    result = serializers.CharField()
    next_attempt_at = serializers.DateTimeField()

    def get_phone_number(self, row) -> str:
        return contact_phone(row.contact)

    def get_name(self, row) -> str:
        return campaign_row_name(row)


class CsvBodyParser(BaseParser):
    """A CSV sent as the request body (`Content-Type: text/csv`): handed over as bytes."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> bytes:
        return stream.read() if stream is not None else b""


class ImportReportSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.ListField(child=serializers.DictField(),
                                     help_text="Each refused row: its line and why.")


class CampaignViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """Outbound campaigns. Upload people with `POST …/rows/` (a CSV file, field `file`, or a
    text/csv body), then `start`. The dialer calls them within the window, at the pace, with
    retries for busy and unanswered calls."""

    serializer_class = CampaignSerializer
    schema_model = Campaign
    parser_classes = [*api_settings.DEFAULT_PARSER_CLASSES, CsvBodyParser]

    def list(self, request):
        return self.paginated_response(campaign_list(tenant=self.tenant), CampaignSerializer)

    def retrieve(self, request, pk=None):
        return Response(CampaignSerializer(campaign_get(tenant=self.tenant, pk=pk)).data)

    @extend_schema(request=CampaignCreateSerializer, responses={201: CampaignSerializer})
    def create(self, request):
        payload = CampaignCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        fields = dict(payload.validated_data)
        campaign = campaign_create(
            tenant=self.tenant, agent=agent_get(tenant=self.tenant, pk=fields.pop("agent")),
            from_number=phone_number_get(tenant=self.tenant, pk=fields.pop("from_number")),
            actor=self.actor(), **fields)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}},
        "application/json": {"type": "object", "properties": {"csv": {"type": "string"}}}},
        responses={200: ImportReportSerializer, 201: ImportReportSerializer,
                   (200, "text/csv"): CampaignRowSerializer(many=True)})
    @action(detail=True, methods=["get", "post"])
    def rows(self, request, pk=None):
        """GET: the rows and where each stands. POST: add rows from a CSV (a `phone` column,
        `name`, and any other column as a variable for `{{column}}` in the agent's lines)."""
        campaign = campaign_get(tenant=self.tenant, pk=pk)
        if request.method == "GET":
            return self.paginated_response(campaign_rows(campaign), CampaignRowSerializer)
        report = campaign_import_csv(tenant=self.tenant, campaign=campaign,
                                     data=_uploaded_csv(request), actor=self.actor())
        return Response(report, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request, pk=None):
        return self._act(campaign_start, pk)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return self._act(campaign_pause, pk)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return self._act(campaign_resume, pk)

    @extend_schema(request=None, responses=CampaignSerializer)
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._act(campaign_cancel, pk)

    @extend_schema(responses={(200, "text/csv"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def export(self, request, pk=None):
        """Every row with its result, attempts and last call, as CSV."""
        campaign = campaign_get(tenant=self.tenant, pk=pk)
        response = HttpResponse(campaign_export_csv(campaign, actor=self.actor()),
                                content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.csv"'
        return response

    def _act(self, service, pk) -> Response:
        campaign = service(tenant=self.tenant, campaign=campaign_get(tenant=self.tenant, pk=pk),
                           actor=self.actor())
        dialer_kick()
        return Response(CampaignSerializer(campaign).data)


def _uploaded_csv(request) -> bytes:
    if isinstance(request.data, bytes):
        return request.data
    upload = request.FILES.get("file")
    if upload is not None:
        return upload.read()
    text = request.data.get("csv") if hasattr(request.data, "get") else None
    if isinstance(text, str):
        return text.encode()
    raise ApplicationError("Send the CSV as a file (field `file`), a text/csv body, or JSON "
                           '{"csv": "phone,name\\n…"}.',
                           extra={"fields": {"file": ["Required."]}})
