"""`manage.py createtenant NAME [--slug S] [--owner USERNAME] [--api-key] [--json]`."""

from __future__ import annotations

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from aybiza.core.errors import ApplicationError
from aybiza.core.models import Role
from aybiza.core.services import api_key_create, membership_set, tenant_create


class Command(BaseCommand):
    help = ("Create a tenant, optionally make an existing user its owner and issue an API key "
            "(the only place the admin cannot: keys are shown once).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="The business name.")
        parser.add_argument("--slug", help="URL-safe id (default: from the name, made unique).")
        parser.add_argument("--owner", metavar="USERNAME", help="An existing user to own it.")
        parser.add_argument("--api-key", action="store_true", help="Issue a read+write API key.")
        parser.add_argument("--json", action="store_true", dest="as_json",
                            help="Also print the result as one JSON object on the last line.")

    def handle(self, *args, name: str, slug: str | None, owner: str | None, api_key: bool,
               as_json: bool, **options) -> None:
        user = None
        if owner:
            user = get_user_model().objects.filter(username=owner).first()
            if user is None:
                raise CommandError(f"No user {owner!r}; create it first (createsuperuser).")
        try:
            with transaction.atomic():
                tenant = tenant_create(name=name, slug=slug)
                if user is not None:
                    membership_set(tenant=tenant, user=user, role=Role.OWNER)
                issued = (api_key_create(tenant=tenant, name="createtenant", created_by=user)
                          if api_key else None)
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc
        created = f"Tenant {tenant.name!r} created (slug {tenant.slug})."
        self.stdout.write(self.style.SUCCESS(created))
        if user is not None:
            self.stdout.write(f"  Owner:   {user.username}")
        if issued is not None:
            self.stdout.write(f"  API key: {issued.key}  (shown only now)")
        if as_json:
            self.stdout.write(json.dumps({
                "tenant_id": tenant.id, "slug": tenant.slug,
                "owner": user.username if user else None,
                "api_key": issued.key if issued else None,
            }))
