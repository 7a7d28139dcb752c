"""An agent's versions: what callers hear now, publish the draft, history, diff, roll back."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from agents.models import RolloutStatus
from agents.rollouts import rollout_active, rollout_roll_back
from agents.selectors import agent_get
from agents.versions import (
    agent_publish,
    agent_rollback,
    draft_has_changes,
    version_diff,
    version_get,
    version_list,
)
from aybiza.core.errors import ApplicationError
from aybiza.core.models import Role
from aybiza.portal.access import portal_view
from learning.improvement import agent_improvement


@portal_view()
def agent_versions(request, pk: int):
    tenant = request.member.tenant
    agent = agent_get(tenant=tenant, pk=pk)
    versions = list(version_list(tenant=tenant, agent=agent).select_related("created_by"))
    improvement = agent_improvement(tenant=tenant, agent=agent)
    diff = older = newer = None
    if "from" in request.GET and "to" in request.GET:
        older = version_get(tenant=tenant, agent=agent, number=request.GET["from"])
        newer = version_get(tenant=tenant, agent=agent, number=request.GET["to"])
        diff = version_diff(older, newer)
    return render(request, "portal/agents/versions.html", {
        "agent": agent, "draft_changed": draft_has_changes(agent),
        "rollout": rollout_active(agent), "improvement": improvement,
        "improvement_tables": [("Version", improvement.by_version),
                               ("Month", improvement.by_month)],
        "diff": diff, "older": older, "newer": newer,
        # Each version beside the one before it, for its "Changes" link.
        "rows": [(version, versions[index + 1].number if index + 1 < len(versions) else None)
                 for index, version in enumerate(versions)],
    })


@require_POST
@portal_view()
def agent_publish_view(request, pk: int):
    tenant = request.member.tenant
    agent = agent_get(tenant=tenant, pk=pk)
    before = agent.published_version_id
    share = request.POST.get("rollout_percent", "")
    percent = int(share) if share in ("1", "10", "50") else None
    try:
        if share and percent is None:
            raise ApplicationError("Choose every new call, or 1, 10 or 50 % of them first.")
        override = (request.POST.get("override_evaluation") == "1"
                    and request.member.role == Role.OWNER)
        version = agent_publish(tenant=tenant, agent=agent, actor=request.user,
                                note=request.POST.get("note", "")[:300],
                                override_evaluation=override, rollout_percent=percent)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        if percent is not None:
            messages.success(request, f"v{version.number} now reaches {percent} % of new calls; "
                                      "it advances by itself while its calls go well, and goes "
                                      "back to the published version if they don't.")
        elif version.pk == before:
            messages.info(request, f"Nothing to publish: callers already hear v{version.number}.")
        else:
            messages.success(request, f"Published v{version.number}: new calls run it now.")
    back = "portal:agent-versions" if request.POST.get("next") == "versions" else \
        "portal:agent-edit"
    return redirect(back, pk=agent.pk)


@require_POST
@portal_view()
def agent_rollback_view(request, pk: int, number: int):
    tenant = request.member.tenant
    agent = agent_get(tenant=tenant, pk=pk)
    version = version_get(tenant=tenant, agent=agent, number=number)
    agent_rollback(tenant=tenant, agent=agent, version=version, actor=request.user)
    messages.success(request, f"Rolled back: new calls run v{version.number} again, and the "
                              "draft is a copy of it.")
    return redirect("portal:agent-versions", pk=agent.pk)


@require_POST
@portal_view()
def agent_rollout_stop_view(request, pk: int):
    """Stop the running staged rollout: every new call runs the published version again."""
    tenant = request.member.tenant
    agent = agent_get(tenant=tenant, pk=pk)
    running = rollout_active(agent)
    if running is not None:
        rollout_roll_back(rollout=running, why="stopped from the portal", actor=request.user,
                          status=RolloutStatus.ABORTED)
        messages.success(request, f"Stopped the rollout of v{running.candidate.number}: every "
                                  "new call runs the published version.")
    return redirect("portal:agent-versions", pk=agent.pk)
