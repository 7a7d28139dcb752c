"""Calls: a filtered, paginated list; one call's transcript, latencies, tools, events, cost."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone

from agents.selectors import agent_list
from aybiza.core.models import Role as MemberRole
from aybiza.portal.access import portal_view
from aybiza.portal.forms import CallFilterForm
from aybiza.portal.latency import latency_bars
from calls import live_state
from calls.models import Role
from calls.recordings import may_play_recordings, recording_link
from calls.selectors import call_get, call_list
from learning.selectors import analysis_extracted, analysis_of
from tools.selectors import tool_execution_list

CALLS_PER_PAGE = 25
COST_KINDS = (("stt", "Speech to text"), ("llm", "Language model"), ("tts", "Speech synthesis"))


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@portal_view()
def call_index(request):
    tenant = request.member.tenant
    form = CallFilterForm(request.GET or None,
                          agents=agent_list(tenant=tenant).prefetch_related(None))
    filters = {}
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        filters = {
            "started_after": _day_start(data["started_from"]) if data["started_from"] else None,
            # "To" is inclusive: calls of that whole day.
            "started_before": (_day_start(data["started_to"] + timedelta(days=1))
                               if data["started_to"] else None),
            "agent_id": data["agent"].pk if data["agent"] else None,
            "outcome": data["outcome"] or None,
            "direction": data["direction"] or None,
            "text": data["q"].strip() or None,
        }
    page = Paginator(call_list(tenant=tenant, **filters), CALLS_PER_PAGE).get_page(
        request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "portal/calls/list.html", {
        "form": form, "page": page, "filtered": any(filters.values()),
        "query": query.urlencode(),
    })


@portal_view()
def call_detail(request, pk: int):
    tenant = request.member.tenant
    call = call_get(tenant=tenant, pk=pk)
    turns = list(call.turns.all())
    bars = latency_bars(turn for turn in turns if turn.role == Role.AGENT)
    rows = [(turn, bars.get(turn.index), _clock(turn.start_ms)) for turn in turns]
    if request.GET.get("fragment") == "transcript":  # re-read by the page of a live call
        return render(request, "portal/calls/_transcript.html", {"turns": rows})
    analysis = analysis_of(call)
    # Going on now: the page follows it over the tenant's event stream (call-live.js).
    live = not call.outcome and call.ended_at is None
    state = live_state.call_states([call.pk]).get(call.pk, "") if live else ""
    return render(request, "portal/calls/detail.html", {
        "call": call,
        "live": live,
        "live_state": state,
        "live_state_label": live_state.LABELS.get(state, ""),
        "analysis": analysis,
        "extracted": [(key.replace("_", " "), value) for key, value
                      in sorted(analysis_extracted(analysis).items())] if analysis else [],
        "turns": rows,
        "events": list(call.events.all()),
        "executions": list(tool_execution_list(tenant=tenant, call_id=call.pk)),
        "cost_rows": _cost_rows(call.cost or {}),
        "cost_total": (call.cost or {}).get("total_usd"),
        **_recording(request, call),
    })


def _recording(request, call) -> dict:
    """A playback link for members allowed to play recordings (issuing it is audited)."""
    if not call.recording:
        return {}
    if may_play_recordings(role=request.member.role):
        return {"recording_link": recording_link(call=call, actor=request.user)}
    roles = [label.lower() + "s" for value, label in MemberRole.choices
             if value in settings.RECORDING_ROLES]
    return {"recording_roles": " and ".join(roles) or "nobody"}


def _clock(offset_ms: int) -> str:
    """An offset into the call as m:ss."""
    minutes, seconds = divmod(offset_ms // 1000, 60)
    return f"{minutes}:{seconds:02d}"


def _cost_rows(cost: dict) -> list[dict]:
    """Flatten {"stt": {"deepgram": {"seconds": 3, "usd": 0.1}}, ...} into table rows."""
    rows = []
    for kind, label in COST_KINDS:
        providers = cost.get(kind)
        if not isinstance(providers, dict):
            continue
        for provider, usage in providers.items():
            if not isinstance(usage, dict):
                continue
            quantities = ", ".join(f"{key.replace('_', ' ')} {value}"
                                   for key, value in usage.items() if key != "usd")
            rows.append({"kind": label, "provider": provider, "quantities": quantities,
                         "usd": usage.get("usd")})
    return rows
