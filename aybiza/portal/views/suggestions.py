"""An agent's learning suggestions: what analysed calls say it lacks, to accept into the draft
or dismiss; the job can be run now."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from agents.selectors import agent_get
from aybiza.core.errors import ApplicationError
from aybiza.portal.access import portal_view
from learning.models import SuggestionStatus
from learning.selectors import suggestion_get, suggestion_list
from learning.services import learning_run_now, suggestion_accept, suggestion_dismiss


@portal_view()
def agent_suggestions(request, pk: int):
    tenant = request.member.tenant
    agent = agent_get(tenant=tenant, pk=pk)
    rows = suggestion_list(tenant=tenant, agent=agent)
    return render(request, "portal/agents/suggestions.html", {
        "agent": agent,
        "open": list(rows.filter(status=SuggestionStatus.OPEN)),
        "decided": list(rows.exclude(status=SuggestionStatus.OPEN)[:20]),
        "last_run": agent.learning_runs.first(),
    })


@require_POST
@portal_view()
def agent_learn(request, pk: int):
    tenant = request.member.tenant
    agent = agent_get(tenant=tenant, pk=pk)
    run = learning_run_now(tenant=tenant, agent=agent, actor=request.user)
    messages.success(request, f"Read {run.calls_read} analysed call"
                              f"{'s' if run.calls_read != 1 else ''}: {run.suggestions} "
                              f"suggestion{'s' if run.suggestions != 1 else ''} new or updated.")
    return redirect("portal:agent-suggestions", pk=agent.pk)


@require_POST
@portal_view()
def suggestion_decide(request, pk: int, suggestion_pk: int):
    tenant = request.member.tenant
    agent = agent_get(tenant=tenant, pk=pk)
    suggestion = suggestion_get(tenant=tenant, pk=suggestion_pk, agent=agent)
    try:
        if request.POST.get("decision") == "accept":
            changes_draft = suggestion.kind in ("knowledge_entry", "prompt_addition") or bool(
                suggestion.kind == "turn_taking"
                and suggestion.proposal.get("end_of_turn_silence_ms"))
            suggestion_accept(tenant=tenant, suggestion=suggestion, actor=request.user,
                              answer=request.POST.get("answer", "")[:4000]
                              if "answer" in request.POST else None)
            messages.success(request, "Added to the draft. Publish the agent for callers to "
                                      "hear it." if changes_draft else "Acknowledged.")
        else:
            suggestion_dismiss(tenant=tenant, suggestion=suggestion, actor=request.user)
            messages.info(request, "Dismissed: it will not be suggested again.")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect("portal:agent-suggestions", pk=agent.pk)
