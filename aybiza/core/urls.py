from django.urls import path

from aybiza.core.views import healthz

urlpatterns = [path("", healthz, name="healthz")]
