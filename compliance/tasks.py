"""Retention runs daily (03:00 UTC, scheduled by migration 0002): one task per tenant."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from aybiza.core.models import Tenant
from compliance.selectors import retention_tenant_ids
from compliance.services import retention_enforce


@shared_task(name="compliance.retention_enforce_all")
def retention_enforce_all() -> int:
    """Fan out: one tenant's failure must not stop the others. Returns tenants queued."""
    tenant_ids = retention_tenant_ids()
    for tenant_id in tenant_ids:
        retention_enforce_tenant.delay(tenant_id)
    return len(tenant_ids)


@shared_task(name="compliance.retention_enforce_tenant", autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=5)
def retention_enforce_tenant(tenant_id: int) -> dict[str, int]:
    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return {}
    return retention_enforce(tenant=tenant, now=timezone.now())
