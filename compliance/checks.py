"""System checks: `manage.py check --deploy` flags the development master key; every start
refuses a TRUSTED_PROXIES entry that is not an address or CIDR."""

from __future__ import annotations

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from aybiza.settings.compliance import DEV_MASTER_KEY
from compliance.conf import setting


def master_key_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    if setting("KMS_KEY_ID") or setting("AYBIZA_MASTER_KEY") != DEV_MASTER_KEY:
        return []
    level = checks.Error if not settings.DEBUG else checks.Warning
    return [level("Data keys are wrapped by the development master key.",
                  hint="Set AYBIZA_MASTER_KEY (base64, 32 bytes) or KMS_KEY_ID.",
                  id="compliance.E001")]


def trusted_proxies_check(app_configs, **kwargs) -> list[checks.CheckMessage]:
    from compliance.lockout import trusted_networks

    try:
        trusted_networks()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), hint="Comma-separated addresses or CIDRs, e.g. 10.0.0.0/8.",
                             id="compliance.E002")]
    return []


def register() -> None:
    checks.register(master_key_check, checks.Tags.security, deploy=True)
    checks.register(trusted_proxies_check, checks.Tags.security)
