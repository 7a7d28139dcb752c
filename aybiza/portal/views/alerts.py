"""Alerts: the team's rules with their state now, what changed lately, and a form per rule."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from aybiza.core.errors import ApplicationError
from aybiza.portal.access import portal_view
from aybiza.portal.forms import AlertRuleForm, add_service_errors
from calls.alerts import alert_rule_create, alert_rule_delete, alert_rule_update
from calls.models import AlertTransition
from calls.selectors import alert_rule_get, alert_rule_list

RECENT_TRANSITIONS = 20


@portal_view()
def alert_index(request):
    tenant = request.member.tenant
    transitions = (AlertTransition.objects.filter(tenant=tenant).select_related("rule")
                   .order_by("-at", "-id")[:RECENT_TRANSITIONS])
    return render(request, "portal/alerts/list.html", {
        "rules": alert_rule_list(tenant=tenant), "transitions": transitions})


@portal_view(write_page=True)
def alert_new(request):
    return _alert_form_page(request, rule=None)


@portal_view()
def alert_edit(request, pk: int):
    return _alert_form_page(request, rule=alert_rule_get(tenant=request.member.tenant, pk=pk))


@require_POST
@portal_view(write_page=True)
def alert_delete(request, pk: int):
    tenant = request.member.tenant
    rule = alert_rule_get(tenant=tenant, pk=pk)
    alert_rule_delete(tenant=tenant, rule=rule, actor=request.user)
    messages.success(request, f"Deleted the alert “{rule.name}”.")
    return redirect("portal:alerts")


def _alert_form_page(request, *, rule):
    tenant = request.member.tenant
    initial = None
    if rule is not None:
        initial = {name: getattr(rule, name) for name in (
            "name", "metric", "threshold", "window_minutes", "min_samples", "enabled")}
        initial["email_to"] = "\n".join(rule.email_to)
    form = AlertRuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                rule = alert_rule_create(tenant=tenant, actor=request.user,
                                         **form.service_fields())
                messages.success(request, f"Created the alert “{rule.name}”: it is checked "
                                          "every minute.")
            else:
                alert_rule_update(tenant=tenant, rule=rule, actor=request.user,
                                  **form.service_fields())
                messages.success(request, f"Saved the alert “{rule.name}”.")
        except ApplicationError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("portal:alerts")
    history = rule.transitions.order_by("-at", "-id")[:RECENT_TRANSITIONS] if rule else []
    return render(request, "portal/alerts/form.html",
                  {"form": form, "rule": rule, "history": history})
