"""The overview: today's calls live (active calls, success, latency, cost), what the tenant
has, and the next step for a new one."""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import render
from django.utils import timezone

from agents.selectors import agent_list, phone_number_list
from aybiza.portal.access import portal_view
from calls.dashboard import dashboard_today
from calls.models import AlertState
from calls.rollups import metrics_series
from calls.selectors import alert_rule_list, call_list

RECENT_CALLS = 5


@portal_view()
def home(request):
    tenant = request.member.tenant
    live = {"today": dashboard_today(tenant=tenant)}
    if request.GET.get("fragment") == "live":  # re-read by the page when an event arrives
        return render(request, "portal/_live.html", live)
    agents = agent_list(tenant=tenant)
    numbers = phone_number_list(tenant=tenant)
    week_ago = timezone.now() - timedelta(days=7)
    context = {
        "agent_count": agents.count(),
        "live_agent_count": agents.filter(status="live").count(),
        "bound_number_count": numbers.filter(agent__isnull=False).count(),
        "number_count": numbers.count(),
        "calls_this_week": call_list(tenant=tenant, started_after=week_ago).count(),
        "recent_calls": list(call_list(tenant=tenant)[:RECENT_CALLS]),
        "firing_alerts": list(alert_rule_list(tenant=tenant).filter(state=AlertState.FIRING)),
        # From hourly rollups (up to 5 minutes behind); trend.js charts 24 h / 7 d / 30 d.
        "trend": metrics_series(tenant=tenant, window="24h")["totals"],
        **live,
    }
    return render(request, "portal/home.html", context)
