"""The voices an agent may use, per TTS provider (what `voice` accepts when an agent is saved)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from calls.realtime.providers.tts.voices import available_voices


class VoiceSerializer(serializers.Serializer):
    provider = serializers.CharField()
    voice = serializers.CharField()


class VoiceListView(APIView):
    """Voices per TTS provider: hibari's installed here, Deepgram's Aura-2 ones."""

    @extend_schema(parameters=[OpenApiParameter("provider", str, required=False,
                                                enum=["hibari", "deepgram"])],
                   responses=VoiceSerializer(many=True))
    def get(self, request):
        provider = request.query_params.get("provider")
        voices = [v for v in available_voices() if provider in (None, v["provider"])]
        return Response(voices)
