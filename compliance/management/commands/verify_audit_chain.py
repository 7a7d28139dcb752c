"""`manage.py verify_audit_chain [--tenant slug]`: exit 1 when a chain was tampered with."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from aybiza.core.models import Tenant
from compliance.models import AuditChainHead
from compliance.selectors import audit_chain_verify, audit_chains


class Command(BaseCommand):
    help = "Recompute the audit hash chains; report edited, deleted or reordered events."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", help="Slug of the tenant whose chain to verify.")

    def handle(self, *args, tenant: str | None = None, **options) -> None:
        owner = None
        if tenant:
            owner = Tenant.objects.filter(slug=tenant).first()
            if owner is None:
                raise CommandError(f"No tenant {tenant!r}.")
        problems = []
        for chain in audit_chains(tenant=owner):
            found = audit_chain_verify(chain=chain)
            head = AuditChainHead.objects.filter(chain=chain).first()
            summary = f"{head.last_seq} events, head {head.last_hash[:16]}" if head else "no head"
            if found:
                self.stdout.write(self.style.ERROR(f"{chain}: {len(found)} problem(s)"))
                for problem in found:
                    self.stdout.write(f"  {problem}")
            else:
                self.stdout.write(self.style.SUCCESS(f"{chain}: ok ({summary})"))
            problems.extend(found)
        if problems:
            raise CommandError(f"{len(problems)} audit chain problem(s) found.", returncode=1)
