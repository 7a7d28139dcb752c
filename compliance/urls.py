"""Routes under `/api/v1/compliance/` (included from `aybiza/api_urls.py`)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from compliance.api import AuditEventViewSet, RetentionPolicyViewSet, SubjectRequestViewSet

router = SimpleRouter()
router.register("subjects", SubjectRequestViewSet, basename="compliance-subject")
router.register("audit-events", AuditEventViewSet, basename="compliance-audit-event")

retention = RetentionPolicyViewSet.as_view({"get": "list", "put": "put"})

urlpatterns = [
    *router.urls,
    path("retention-policy/", retention, name="compliance-retention-policy"),
]
