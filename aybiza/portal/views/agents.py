"""Agents: list, create, edit (with knowledge entries inline)."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect, render

from agents.rollouts import rollout_active
from agents.selectors import agent_get, agent_list
from agents.services import agent_create, agent_update
from agents.versions import draft_has_changes
from aybiza.core.errors import ApplicationError
from aybiza.portal.access import portal_view
from aybiza.portal.forms import AgentForm, KnowledgeFormSet, add_service_errors, knowledge_entries
from aybiza.portal.voice_sample import greeting_sample_wav

logger = logging.getLogger(__name__)


@portal_view()
def agent_index(request):
    agents = (agent_list(tenant=request.member.tenant)
              .annotate(knowledge_count=Count("knowledge", distinct=True),
                        number_count=Count("phone_numbers", distinct=True))
              .prefetch_related(None))  # counts are enough here, not the entries
    return render(request, "portal/agents/list.html", {"agents": agents})


@portal_view(write_page=True)
def agent_new(request):
    return _agent_form_page(request, agent=None)


@portal_view()
def agent_edit(request, pk: int):
    agent = agent_get(tenant=request.member.tenant, pk=pk)
    return _agent_form_page(request, agent=agent)


def _agent_form_page(request, *, agent):
    tenant = request.member.tenant
    if request.method == "POST":
        form = AgentForm(request.POST, instance=agent)
        knowledge = KnowledgeFormSet(request.POST, prefix="knowledge")
        if form.is_valid() and knowledge.is_valid():
            fields = {name: form.cleaned_data[name] for name in AgentForm.Meta.fields}
            entries = knowledge_entries(knowledge)
            try:
                if agent is None:
                    agent = agent_create(tenant=tenant, knowledge=entries, actor=request.user,
                                         **fields)
                else:
                    agent = agent_update(tenant=tenant, agent=agent, knowledge=entries,
                                         actor=request.user, **fields)
            except ApplicationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Saved “{agent.name}”.")
                return redirect("portal:agent-edit", pk=agent.pk)
    else:
        form = AgentForm(instance=agent)
        initial = ([{"question": e.question, "answer": e.answer} for e in agent.knowledge.all()]
                   if agent else [])
        knowledge = KnowledgeFormSet(prefix="knowledge", initial=initial)
    tools = list(agent.tools.order_by("name")) if agent else []
    return render(request, "portal/agents/form.html",
                  {"form": form, "knowledge": knowledge, "agent": agent, "tools": tools,
                   "draft_changed": agent is not None and draft_has_changes(agent),
                   "rollout": rollout_active(agent) if agent is not None else None})


@portal_view()
def agent_sample(request, pk: int):
    """The greeting in the agent's voice, for the page's audio player (synthesized on play)."""
    agent = agent_get(tenant=request.member.tenant, pk=pk)
    try:
        audio = greeting_sample_wav(agent=agent)
    except Exception:  # a provider down or misconfigured: the player says it cannot play
        logger.warning("Voice sample failed for agent %s", agent.pk, exc_info=True)
        return HttpResponse("The voice sample could not be made.", status=503,
                            content_type="text/plain")
    response = HttpResponse(audio, content_type="audio/wav")
    response["Cache-Control"] = "private, max-age=300"
    return response


@portal_view(write_page=True)
def agent_talk(request, pk: int):
    """The browser test call: talk to the agent's draft from the microphone."""
    agent = agent_get(tenant=request.member.tenant, pk=pk)
    knowledge = list(agent.knowledge.order_by("id").values_list("question", flat=True)[:3])
    return render(request, "portal/agents/talk.html", {
        "agent": agent, "socket_path": f"/ws/portal/agents/{agent.pk}/talk/",
        "example_questions": knowledge})
