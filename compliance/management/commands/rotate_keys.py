"""`manage.py rotate_keys [--tenant slug] [--new-data-key]`: re-wrap tenants' data keys under
the current master key or KMS key; optionally start a new data key version."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from aybiza.core.models import Tenant
from compliance.crypto import data_keys_rotate


class Command(BaseCommand):
    help = "Re-wrap data keys under the current master key / KMS key (and optionally add one)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="Slug of one tenant (default: every tenant).")
        parser.add_argument("--new-data-key", action="store_true",
                            help="Also create a new active data key version per tenant.")

    def handle(self, *args, tenant: str | None = None, new_data_key: bool = False,
               **options) -> None:
        tenants = Tenant.objects.order_by("id")
        if tenant:
            tenants = tenants.filter(slug=tenant)
            if not tenants.exists():
                raise CommandError(f"No tenant {tenant!r}.")
        for owner in tenants.iterator():
            result = data_keys_rotate(tenant=owner, new_data_key=new_data_key,
                                      actor="system:rotate_keys")
            extra = f", new version {result.new_version}" if result.new_version else ""
            self.stdout.write(f"{owner.slug}: {result.rewrapped} key(s) re-wrapped{extra}")
