"""`manage.py vendor_assets`: (re)fetch the portal's vendored browser libraries from the npm
registry by the versions and integrity hashes pinned in static/vendor/manifest.json;
`--check` only verifies the files on disk (offline; the test suite runs it)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from aybiza.core.vendoring import (
    NPM_REGISTRY,
    VendoringError,
    fetch,
    libraries,
    problems,
    write_manifest,
)


class Command(BaseCommand):
    help = "Fetch (or --check) the vendored browser libraries pinned in static/vendor/."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--check", action="store_true",
                            help="verify the files against the manifest; fetch nothing")
        parser.add_argument("--registry", default=NPM_REGISTRY,
                            help=f"npm registry base URL (default {NPM_REGISTRY})")

    def handle(self, *args, check: bool, registry: str, **options) -> None:
        if check:
            found = problems()
            if found:
                raise CommandError("Vendored files differ from static/vendor/manifest.json:\n  "
                                   + "\n  ".join(found) + "\nRun `make vendor` to fetch them.")
            self.stdout.write("Vendored files match the manifest.")
            return
        fetched = []
        for library in libraries():
            try:
                fetched.append(fetch(library, registry=registry))
            except VendoringError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"{library.package}@{library.version} → "
                              f"static/vendor/{library.folder}/")
        write_manifest(fetched)
