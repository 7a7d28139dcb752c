"""An authentication backend that refuses a username (from one IP, or from all) after repeated
failures."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from compliance.lockout import (
    client_ip,
    login_failure_register,
    login_failures_reset,
    login_locked,
)


class LockoutModelBackend(ModelBackend):
    """Django's ModelBackend behind a lockout. While locked, even the right password fails.

    Raising PermissionDenied stops `authenticate()` from trying other backends; Django then
    sends `user_login_failed`, which the audit log records.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(get_user_model().USERNAME_FIELD)
        if username is None or password is None:
            return None
        ip = client_ip(request)
        if login_locked(username=username, ip=ip):
            raise PermissionDenied("Too many failed logins; try again later.")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None:
            login_failures_reset(username=username, ip=ip)
            return user
        if login_failure_register(username=username, ip=ip):
            from compliance.services.audit import security_event
            from compliance.signals import username_reference

            security_event(kind="auth.locked_out",
                           detail={"username": username_reference(username)})
        return None
