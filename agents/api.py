"""REST API for agents (with knowledge entries), phone numbers and provider credentials."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response

from agents.models import (
    MAX_PROMPT_CHARS,
    PROVIDER_SECRET_NAMES,
    Agent,
    KnowledgeEntry,
    PhoneNumber,
    ProviderCredential,
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
from aybiza.core.api import TenantViewSetMixin


class KnowledgeEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = KnowledgeEntry
        fields = ["id", "question", "answer"]
        read_only_fields = ["id"]


class AgentSerializer(serializers.ModelSerializer):
    knowledge = KnowledgeEntrySerializer(many=True, required=False)
    system_prompt = serializers.CharField(max_length=MAX_PROMPT_CHARS, allow_blank=True,
                                          required=False)

    class Meta:
        model = Agent
        fields = [
            "id", "name", "system_prompt", "greeting", "language", "voice", "stt_provider",
            "llm_provider", "tts_provider", "llm_model", "status", "end_of_turn_silence_ms",
            "barge_in_min_speech_ms", "reprompt_after_s", "hangup_after_s", "max_call_seconds",
            "reprompt_text", "goodbye_text", "keep_original_transcripts", "recording_mode",
            "recording_disclosure", "consent_prompt", "knowledge", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]


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
    agent_id = serializers.IntegerField(allow_null=True, required=False,
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
