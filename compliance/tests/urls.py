"""The project's URLs plus `/api/v1/compliance/`, as the lead will wire it in api_urls.py."""

from django.urls import include, path

from aybiza.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("api/v1/compliance/", include("compliance.urls")),
    *project_urlpatterns,
]
