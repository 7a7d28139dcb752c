from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from agents import demo_calendar
from aybiza.core.views import metrics, readyz
from calls.recording_views import recording_playback

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("aybiza.api_urls")),
    # Members sign in here for session access to the API (and the browsable API).
    path("api-auth/", include("rest_framework.urls")),
    # The tenant web portal (server-rendered pages for members).
    path("portal/", include("aybiza.portal.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("demo/calendar/bookings/", demo_calendar.book, name="demo-calendar-book"),
    path("demo/helpdesk/tickets/", demo_calendar.open_ticket, name="demo-helpdesk-ticket"),
    path("twilio/", include("calls.urls")),
    # A recording played through a signed, expiring link (calls/recordings.py).
    path("recordings/<str:token>/", recording_playback, name="recording-playback"),
    path("healthz", include("aybiza.core.urls")),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="metrics"),
    # The site root leads to the portal (its sign-in page for anyone not signed in).
    path("", RedirectView.as_view(pattern_name="portal:home"), name="root"),
]
