"""Cross-cutting capture for the audit log: logins, failed logins, admin actions.

Connected in `ComplianceConfig.ready()`. Signals only record; they never change data.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.db.models.signals import post_save

from aybiza.core.models import Tenant
from compliance.hashing import keyed_hash
from compliance.lockout import client_ip

ADMIN_ACTIONS = {ADDITION: "admin.added", CHANGE: "admin.changed", DELETION: "admin.deleted"}


def username_reference(username: str) -> dict[str, Any]:
    """A failed login's username: named when it is an account, else only a keyed hash.

    What people type in the username field may be a password or someone else's address.
    """
    user_model = get_user_model()
    exists = user_model._default_manager.filter(
        **{user_model.USERNAME_FIELD: username}).exists()
    reference: dict[str, Any] = {"hash": keyed_hash("username", username.casefold())[:24]}
    if exists:
        reference["name"] = username
    return reference


def _ip_reference(request) -> str:
    ip = client_ip(request)
    return keyed_hash("ip", ip)[:24] if ip else ""


def on_user_logged_in(sender, request, user, **kwargs) -> None:
    from compliance.services.audit import audit_record

    with transaction.atomic():
        audit_record(tenant=None, action="auth.login", target=user, actor=user,
                     payload={"ip": _ip_reference(request)})


def on_user_login_failed(sender, credentials: dict[str, Any], request=None, **kwargs) -> None:
    from compliance.services.audit import security_event

    username = str(credentials.get(get_user_model().USERNAME_FIELD) or
                   credentials.get("username") or "")
    security_event(kind="auth.login_failed",
                   detail={"username": username_reference(username),
                           "ip": _ip_reference(request)})


def _tenant_of(entry: LogEntry) -> Tenant | None:
    model = entry.content_type.model_class() if entry.content_type_id else None
    if model is None or not entry.object_id:
        return None
    if issubclass(model, Tenant):
        return Tenant.objects.filter(pk=entry.object_id).first()
    if "tenant" not in {f.name for f in model._meta.concrete_fields}:
        return None
    # Deletions are logged before the object goes, so its tenant can still be read.
    tenant_id = (model._base_manager.filter(pk=entry.object_id)
                 .values_list("tenant_id", flat=True).first())
    return Tenant.objects.filter(pk=tenant_id).first() if tenant_id else None


def on_admin_log_entry(sender, instance: LogEntry, created: bool, **kwargs) -> None:
    if not created:
        return
    from compliance.services.audit import audit_record

    content_type = instance.content_type
    with transaction.atomic():
        audit_record(
            tenant=_tenant_of(instance), action=ADMIN_ACTIONS.get(instance.action_flag, "admin"),
            actor=instance.user,
            payload={"model": f"{content_type.app_label}.{content_type.model}"
                     if content_type else "", "object_id": str(instance.object_id or "")},
        )


def connect() -> None:
    user_logged_in.connect(on_user_logged_in, dispatch_uid="compliance.audit.login")
    user_login_failed.connect(on_user_login_failed, dispatch_uid="compliance.audit.login_failed")
    post_save.connect(on_admin_log_entry, sender=LogEntry, dispatch_uid="compliance.audit.admin")
