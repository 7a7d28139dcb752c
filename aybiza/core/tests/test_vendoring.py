"""Vendored browser libraries: the files on disk are the pinned ones, and the fetch script
verifies what the registry sends (a local server speaks the npm registry's two requests)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from aybiza.core.vendoring import Library, VendoringError, fetch, problems, write_manifest


def test_the_vendored_files_are_the_ones_the_manifest_pins():
    call_command("vendor_assets", "--check")  # raises CommandError naming any difference


def test_a_changed_vendored_file_is_reported(tmp_path: Path):
    # given a vendor folder whose library was edited by hand
    library = _library(sha256={"lib.js": hashlib.sha256(b"original").hexdigest()})
    (tmp_path / library.folder).mkdir()
    (tmp_path / library.folder / "lib.js").write_bytes(b"edited")
    write_manifest([library], tmp_path)
    # then
    assert problems(tmp_path) == ["tinylib-1.2.3/lib.js: sha256 differs from the manifest"]


def _tarball(content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("package/dist/lib.min.js")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def _library(**fields) -> Library:
    defaults = {"name": "tinylib", "package": "tinylib", "version": "1.2.3",
                "integrity": "", "files": {"dist/lib.min.js": "lib.js"}, "sha256": {},
                "license": "MIT"}
    return Library(**{**defaults, **fields})


@pytest.fixture
def registry():
    """An npm registry on loopback: GET /<package>/<version> (metadata), GET the tarball."""
    served: dict[str, bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = served.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"{}")

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"

    def publish(tarball: bytes, *, claimed_integrity: str | None = None) -> str:
        served["/tinylib/-/tinylib-1.2.3.tgz"] = tarball
        served["/tinylib/1.2.3"] = json.dumps({"dist": {
            "tarball": f"{base}/tinylib/-/tinylib-1.2.3.tgz",
            "integrity": claimed_integrity or _integrity(tarball)}}).encode()
        return base

    yield publish
    server.shutdown()


def test_fetch_writes_the_pinned_files_with_their_sha256(registry, tmp_path: Path):
    tarball = _tarball(b"window.tiny = 1;")
    base = registry(tarball)

    fetched = fetch(_library(integrity=_integrity(tarball)), root=tmp_path, registry=base)

    assert (tmp_path / "tinylib-1.2.3" / "lib.js").read_bytes() == b"window.tiny = 1;"
    assert fetched.sha256 == {"lib.js": hashlib.sha256(b"window.tiny = 1;").hexdigest()}


def test_fetch_refuses_a_tarball_that_does_not_match_the_pinned_integrity(registry, tmp_path):
    pinned = _integrity(_tarball(b"window.tiny = 1;"))
    # the registry (or something between) serves other bytes, and says so consistently
    base = registry(_tarball(b"steal(document.cookie);"), claimed_integrity=pinned)

    with pytest.raises(VendoringError, match="does not match its integrity"):
        fetch(_library(integrity=pinned), root=tmp_path, registry=base)
    assert not (tmp_path / "tinylib-1.2.3" / "lib.js").exists()


def test_fetch_refuses_when_the_registry_records_another_integrity(registry, tmp_path):
    base = registry(_tarball(b"window.tiny = 2;"))

    with pytest.raises(VendoringError, match="the manifest pins"):
        fetch(_library(integrity=_integrity(b"something else")), root=tmp_path, registry=base)


def test_the_command_names_what_differs(settings, tmp_path: Path):
    settings.BASE_DIR = tmp_path
    (tmp_path / "static" / "vendor").mkdir(parents=True)
    write_manifest([_library(sha256={"lib.js": "0" * 64})], tmp_path / "static" / "vendor")

    with pytest.raises(CommandError, match="tinylib-1.2.3/lib.js: missing"):
        call_command("vendor_assets", "--check")
