"""The project's URLs plus the tools routes, until aybiza/api_urls.py and aybiza/urls.py
include them (see tools/urls.py). Tests select it with `pytest.mark.urls`."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from tools.urls import register

router = DefaultRouter()
register(router)

urlpatterns = [
    path("api/v1/", include(router.urls)),
    path("twilio/tools/", include("tools.urls")),
    path("", include("aybiza.urls")),
]
