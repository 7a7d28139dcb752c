"""REST API for knowledge documents: upload to an agent (multipart `file`, or JSON `content`
for text and Markdown), list, read, delete, and try the search a call runs per turn."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from agents.documents import document_add, document_delete
from agents.knowledge_search import knowledge_search
from agents.models import KnowledgeDocument
from agents.selectors import agent_get, document_get, document_list
from aybiza.core.api import TenantViewSetMixin
from aybiza.core.errors import ApplicationError

MAX_QUERY_CHARS = 500


class KnowledgeDocumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = KnowledgeDocument
        fields = ["id", "agent", "title", "kind", "size_bytes", "sha256", "chunk_count",
                  "created_at"]
        read_only_fields = fields


class DocumentUploadSerializer(serializers.Serializer):
    """Either `file` (multipart: .txt, .md or .pdf) or `filename` + `content` (JSON text)."""

    file = serializers.FileField(required=False)
    filename = serializers.CharField(max_length=200, required=False)
    content = serializers.CharField(required=False, trim_whitespace=False)
    title = serializers.CharField(max_length=200, required=False, allow_blank=True)

    def validate(self, attrs: dict) -> dict:
        upload = attrs.get("file")
        if upload is None and not ("filename" in attrs and "content" in attrs):
            raise serializers.ValidationError(
                "Send the document as a multipart `file`, or as JSON `filename` and `content`.")
        if upload is not None and upload.size > settings.KNOWLEDGE_DOCUMENT_MAX_BYTES:
            # Refused by its declared size, before it is read into memory.
            limit = settings.KNOWLEDGE_DOCUMENT_MAX_BYTES // 1_000_000
            raise serializers.ValidationError(
                {"file": f"The file is {upload.size // 1_000_000} MB; documents may be at most "
                         f"{limit} MB."})
        return attrs


class PassageSerializer(serializers.Serializer):
    document = serializers.CharField()
    heading = serializers.CharField()
    text = serializers.CharField()
    score = serializers.FloatField()


def documents_for_agent(view: TenantViewSetMixin, request, pk) -> Response:
    """GET: the agent's documents; POST: add one (AgentViewSet.documents)."""
    agent = agent_get(tenant=view.tenant, pk=pk)
    if request.method == "GET":
        return view.paginated_response(document_list(tenant=view.tenant, agent=agent),
                                       KnowledgeDocumentSerializer)
    payload = DocumentUploadSerializer(data=request.data)
    payload.is_valid(raise_exception=True)
    data = payload.validated_data
    upload = data.get("file")
    if upload is not None:
        filename, content = upload.name, upload.read()
    else:
        filename, content = data["filename"], data["content"].encode("utf-8")
    document = document_add(tenant=view.tenant, agent=agent, filename=filename, data=content,
                            title=data.get("title", ""), actor=view.actor())
    return Response(KnowledgeDocumentSerializer(document).data, status=status.HTTP_201_CREATED)


def search_agent_documents(view: TenantViewSetMixin, request, pk) -> Response:
    """GET ?q=: the passages a caller saying `q` would bring into the agent's answer."""
    agent = agent_get(tenant=view.tenant, pk=pk)
    query = request.query_params.get("q", "")
    if not query.strip() or len(query) > MAX_QUERY_CHARS:
        raise ApplicationError(f"Give `q`: what a caller says (at most {MAX_QUERY_CHARS} "
                               "characters).", extra={"field": "q"})
    ids = list(document_list(tenant=view.tenant, agent=agent).values_list("id", flat=True))
    passages = knowledge_search(tenant_id=view.tenant.pk, document_ids=ids, query=query)
    return Response(PassageSerializer(passages, many=True).data)


class KnowledgeDocumentViewSet(TenantViewSetMixin, viewsets.ViewSet):
    """The tenant's knowledge documents (upload them through /agents/{id}/documents/)."""

    serializer_class = KnowledgeDocumentSerializer
    schema_model = KnowledgeDocument

    @extend_schema(parameters=[OpenApiParameter("agent", int, description="Only this agent's")])
    def list(self, request):
        agent_id = request.query_params.get("agent")
        agent = agent_get(tenant=self.tenant, pk=agent_id) if agent_id else None
        return self.paginated_response(document_list(tenant=self.tenant, agent=agent),
                                       KnowledgeDocumentSerializer)

    def retrieve(self, request, pk=None):
        return Response(KnowledgeDocumentSerializer(
            document_get(tenant=self.tenant, pk=pk)).data)

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        document_delete(tenant=self.tenant, document=document_get(tenant=self.tenant, pk=pk),
                        actor=self.actor())
        return Response(status=status.HTTP_204_NO_CONTENT)
