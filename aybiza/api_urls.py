"""`/api/v1/` routes of every app."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from agents.api import AgentViewSet, PhoneNumberViewSet, ProviderCredentialViewSet
from agents.documents_api import KnowledgeDocumentViewSet
from agents.voices_api import VoiceListView
from aybiza.core.api import ApiKeyViewSet
from aybiza.core.webhook_api import WebhookViewSet
from calls.alert_api import AlertRuleViewSet, MetricsView
from calls.api import CallViewSet
from calls.campaign_api import CampaignViewSet
from learning.api import SuggestionViewSet
from memory.api import ContactViewSet, DoNotCallViewSet
from tools.urls import register as register_tool_routes

router = DefaultRouter()
router.register("agents", AgentViewSet, basename="agent")
router.register("knowledge-documents", KnowledgeDocumentViewSet, basename="knowledge-document")
router.register("phone-numbers", PhoneNumberViewSet, basename="phone-number")
router.register("calls", CallViewSet, basename="call")
router.register("api-keys", ApiKeyViewSet, basename="api-key")
router.register("provider-credentials", ProviderCredentialViewSet, basename="provider-credential")
router.register("contacts", ContactViewSet, basename="contact")
router.register("do-not-call", DoNotCallViewSet, basename="do-not-call")
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register("webhooks", WebhookViewSet, basename="webhook")
router.register("alert-rules", AlertRuleViewSet, basename="alert-rule")
router.register("suggestions", SuggestionViewSet, basename="suggestion")
register_tool_routes(router)

urlpatterns = [*router.urls, path("compliance/", include("compliance.urls")),
               path("voices/", VoiceListView.as_view(), name="voice-list"),
               path("metrics/", MetricsView.as_view(), name="metrics-series")]
