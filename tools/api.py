"""REST API: tools (secrets write-only), test runs, executions (read-only) and the catalog."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from aybiza.core.api import MAX_ID, TenantViewSetMixin
from tools.catalog import catalog_get, catalog_list
from tools.models import ExecutionStatus, Tool, ToolExecution
from tools.selectors import tool_execution_get, tool_execution_list, tool_get, tool_list
from tools.services import (
    tool_create,
    tool_delete,
    tool_install_from_catalog,
    tool_test_run,
    tool_update,
)


class ToolSerializer(serializers.ModelSerializer):
    agent_ids = serializers.ListField(child=serializers.IntegerField(min_value=1, max_value=MAX_ID),
                                      required=False,
                                      help_text="Agents that may use this tool.")
    secrets = serializers.DictField(
        child=serializers.CharField(allow_blank=True, allow_null=True), required=False,
        write_only=True,
        help_text="Secret values by name (token; username+password; api_key; hmac_secret). "
                  "Merged into the stored ones; a null or empty value removes one. Never read "
                  "back.",
    )
    has_secrets = serializers.SerializerMethodField()

    class Meta:
        model = Tool
        fields = [
            "id", "name", "description", "parameters", "trigger_phrases", "kind",
            "builtin_name", "builtin_config", "method", "url_template", "headers_template",
            "body_mode", "body_template", "auth_type", "auth_header_name", "timeout_ms",
            "max_retries", "idempotent", "filler_text", "secure_capture_argument",
            "secure_capture_prompt", "mode", "is_active", "catalog_key",
            "agent_ids", "secrets", "has_secrets", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "catalog_key", "created_at", "updated_at"]
        # Uniqueness per tenant is checked by the service.
        extra_kwargs = {"name": {"validators": []}}

    def get_has_secrets(self, tool: Tool) -> bool:
        return bool(tool.secrets_sealed)

    def to_representation(self, tool: Tool) -> dict:
        data = super().to_representation(tool)
        data["agent_ids"] = sorted(agent.pk for agent in tool.agents.all())
        return data


class ToolExecutionSerializer(serializers.ModelSerializer):
    is_error = serializers.BooleanField(read_only=True)

    class Meta:
        model = ToolExecution
        fields = ["id", "tool_id", "tool_name", "call_id", "tool_call_id", "arguments", "dry_run",
                  "status", "is_error", "http_status", "latency_ms", "attempts", "error",
                  "result", "created_at", "started_at", "finished_at"]
        read_only_fields = fields


class ToolExecutionFilterSerializer(serializers.Serializer):
    tool = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID,
                                    help_text="A tool id.")
    call = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID,
                                    help_text="A call id.")
    status = serializers.ChoiceField(choices=ExecutionStatus.choices, required=False)


class ToolTestSerializer(serializers.Serializer):
    arguments = serializers.JSONField(default=dict, help_text="Sample arguments, as the brain "
                                                              "would send them.")
    confirm = serializers.BooleanField(
        default=False, help_text="Really send: without it, built-ins that text, e-mail or "
                                 "transfer only answer what they would send (a dry run).")


class CatalogTemplateSerializer(serializers.Serializer):
    key = serializers.CharField()
    vendor = serializers.CharField()
    vendor_name = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField()
    docs = serializers.CharField()
    credentials = serializers.ListField(child=serializers.DictField())
    method = serializers.CharField(source="fields.method", default="")
    url_template = serializers.CharField(source="fields.url_template", default="")
    parameters = serializers.DictField(source="fields.parameters", default=dict)


class CatalogInstallSerializer(serializers.Serializer):
    credentials = serializers.DictField(default=dict)
    name = serializers.CharField(max_length=64, required=False)
    agent_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False)


class ToolViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """The tenant's tools. Secrets are accepted on write and never returned."""

    serializer_class = ToolSerializer
    schema_model = Tool

    def list(self, request):
        return self.paginated_response(tool_list(tenant=self.tenant), ToolSerializer)

    def retrieve(self, request, pk=None):
        return Response(ToolSerializer(tool_get(tenant=self.tenant, pk=pk)).data)

    def create(self, request):
        tool = tool_create(tenant=self.tenant, actor=self.actor(), **self._validated(request))
        return Response(ToolSerializer(tool_get(tenant=self.tenant, pk=tool.pk)).data,
                        status=status.HTTP_201_CREATED)

    def update(self, request, pk=None, partial=False):
        tool = tool_get(tenant=self.tenant, pk=pk)
        tool_update(tenant=self.tenant, tool=tool, actor=self.actor(),
                    **self._validated(request, instance=tool, partial=partial))
        return Response(ToolSerializer(tool_get(tenant=self.tenant, pk=pk)).data)

    def partial_update(self, request, pk=None):
        return self.update(request, pk=pk, partial=True)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        tool_delete(tenant=self.tenant, tool=tool_get(tenant=self.tenant, pk=pk),
                    actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=ToolTestSerializer, responses={200: ToolExecutionSerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Run the tool now with sample arguments and return what the brain would get.

        The run goes to the tools queue (a worker, never this web process) and the request
        waits for it up to the tool task's hard time limit; a run not finished by then comes
        back `queued` or `running` (read it later under /api/v1/tool-executions/{id}/).
        Arguments are capped (TOOLS_MAX_ARGUMENTS_CHARS, TOOLS_MAX_ARGUMENT_STRING_CHARS)."""
        tool = tool_get(tenant=self.tenant, pk=pk)
        payload = ToolTestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        execution = tool_test_run(tenant=self.tenant, tool=tool,
                                  arguments=payload.validated_data["arguments"],
                                  confirm=payload.validated_data["confirm"])
        return Response(ToolExecutionSerializer(execution).data)

    @staticmethod
    def _validated(request, instance=None, partial=False) -> dict:
        serializer = ToolSerializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class ToolExecutionViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """Runs of the tenant's tools, newest first. Filters: `tool`, `call` (ids), `status`."""

    serializer_class = ToolExecutionSerializer
    schema_model = ToolExecution

    @extend_schema(parameters=[ToolExecutionFilterSerializer],
                   responses=ToolExecutionSerializer(many=True))
    def list(self, request):
        filters = ToolExecutionFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        executions = tool_execution_list(tenant=self.tenant, tool_id=params.get("tool"),
                                         call_id=params.get("call"), status=params.get("status"))
        return self.paginated_response(executions, ToolExecutionSerializer)

    def retrieve(self, request, pk=None):
        execution = tool_execution_get(tenant=self.tenant, pk=pk)
        return Response(ToolExecutionSerializer(execution).data)


CATALOG_KEY = OpenApiParameter("id", str, OpenApiParameter.PATH,
                               description="Template key, e.g. slack.chat_post_message.")


class ToolCatalogViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """Ready-made tools (Slack, Google Calendar, Salesforce, ...); `install` adds one."""

    serializer_class = CatalogTemplateSerializer
    lookup_value_regex = r"[a-z0-9_]+\.[a-z0-9_]+"
    pagination_class = None  # a short, fixed list

    def get_queryset(self):  # templates are data files, not rows
        return None

    def list(self, request):
        return Response(CatalogTemplateSerializer(catalog_list(), many=True).data)

    @extend_schema(parameters=[CATALOG_KEY])
    def retrieve(self, request, pk=None):
        return Response(CatalogTemplateSerializer(catalog_get(pk)).data)

    @extend_schema(parameters=[CATALOG_KEY], request=CatalogInstallSerializer,
                   responses={201: ToolSerializer})
    @action(detail=True, methods=["post"])
    def install(self, request, pk=None):
        payload = CatalogInstallSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        tool = tool_install_from_catalog(tenant=self.tenant, template_key=pk, actor=self.actor(),
                                         **payload.validated_data)
        return Response(ToolSerializer(tool_get(tenant=self.tenant, pk=tool.pk)).data,
                        status=status.HTTP_201_CREATED)
