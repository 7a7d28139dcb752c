"""Vendored browser libraries: fetched from the npm registry by a pinned version, checked against
the registry's integrity hash, kept under `static/vendor/<name>-<version>/` with their sha256.

`static/vendor/manifest.json` is the record: per library the npm package, version, the
registry's `dist.integrity` (sha512 of the tarball) and each vendored file's sha256. The portal
never loads anything from a CDN; `manage.py vendor_assets --check` (run by the test suite) proves
the files on disk are the ones the manifest names.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings

NPM_REGISTRY = "https://registry.npmjs.org"
TARBALL_LIMIT_BYTES = 20 * 1024 * 1024


class VendoringError(Exception):
    """A library could not be fetched or does not match what the manifest pins."""


@dataclass(frozen=True)
class Library:
    name: str  # the folder's prefix: static/vendor/<name>-<version>/
    package: str  # on npm
    version: str
    integrity: str  # npm's dist.integrity of the tarball ("sha512-<base64>")
    files: dict[str, str]  # path in the package → file name in the folder
    sha256: dict[str, str]  # file name → hex digest
    license: str

    @property
    def folder(self) -> str:
        return f"{self.name}-{self.version}"


def vendor_root() -> Path:
    return Path(settings.BASE_DIR) / "static" / "vendor"


def manifest_path(root: Path | None = None) -> Path:
    return (root or vendor_root()) / "manifest.json"


def libraries(root: Path | None = None) -> list[Library]:
    data = json.loads(manifest_path(root).read_text())
    return [Library(name=name, **fields) for name, fields in sorted(data.items())]


def problems(root: Path | None = None) -> list[str]:
    """What on disk differs from the manifest (missing or changed files); empty when clean."""
    root = root or vendor_root()
    found: list[str] = []
    for library in libraries(root):
        for file_name in library.files.values():
            path = root / library.folder / file_name
            if not path.is_file():
                found.append(f"{library.folder}/{file_name}: missing")
            elif _sha256(path.read_bytes()) != library.sha256.get(file_name):
                found.append(f"{library.folder}/{file_name}: sha256 differs from the manifest")
    return found


def fetch(library: Library, *, root: Path | None = None,
          registry: str = NPM_REGISTRY) -> Library:
    """Download the pinned version from the registry, verify the tarball against the pinned
    integrity (and the registry's own record of it), write the files; returns the library with
    their sha256 filled in."""
    root = root or vendor_root()
    with httpx.Client(timeout=30, follow_redirects=False) as client:
        meta = _get(client, f"{registry}/{library.package}/{library.version}").json()
        dist = meta.get("dist", {})
        if dist.get("integrity") != library.integrity:
            raise VendoringError(f"{library.package}@{library.version}: the registry says "
                                 f"{dist.get('integrity')!r}, the manifest pins "
                                 f"{library.integrity!r}")
        tarball = _get(client, dist["tarball"]).content
    if _integrity(tarball) != library.integrity:
        raise VendoringError(f"{library.package}@{library.version}: the tarball does not match "
                             "its integrity hash")
    folder = root / library.folder
    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        for source, file_name in library.files.items():
            member = archive.extractfile(f"package/{source}")
            if member is None:
                raise VendoringError(f"{library.package}@{library.version} has no {source}")
            content = member.read()
            (folder / file_name).write_bytes(content)
            digests[file_name] = _sha256(content)
    return Library(**{**library.__dict__, "sha256": digests})


def write_manifest(items: list[Library], root: Path | None = None) -> None:
    data: dict[str, Any] = {}
    for library in items:
        fields = dict(library.__dict__)
        data[fields.pop("name")] = fields
    manifest_path(root).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _get(client: httpx.Client, url: str) -> httpx.Response:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        raise VendoringError(f"{url}: {exc}") from exc
    if response.status_code != 200:
        raise VendoringError(f"{url}: HTTP {response.status_code}")
    if len(response.content) > TARBALL_LIMIT_BYTES:
        raise VendoringError(f"{url}: larger than {TARBALL_LIMIT_BYTES} bytes")
    return response


def _integrity(content: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(content).digest()).decode()


def _sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
