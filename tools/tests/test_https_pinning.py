"""https with a pinned address: TLS SNI and the certificate check use the name, TCP the address."""

from __future__ import annotations

import datetime
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tools import ssrf
from tools.executor import execute, transport
from tools.models import ExecutionStatus
from tools.selectors import tool_network_allowlist

pytestmark = pytest.mark.django_db


def self_signed(name: str) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


class TlsServer:
    """A local https server presenting a certificate for `cert_name`; records SNI and Host."""

    def __init__(self, cert_name: str, tmp_path) -> None:
        self.cert_pem, key_pem = self_signed(cert_name)
        (tmp_path / "cert.pem").write_bytes(self.cert_pem)
        (tmp_path / "key.pem").write_bytes(key_pem)
        self.server_names: list[str | None] = []
        self.hosts: list[str] = []
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
        context.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.hosts.append(self.headers["Host"])
                body = json.dumps({"secure": True}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> TlsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def tls_server(tmp_path, monkeypatch) -> Iterator[TlsServer]:
    # given "secure.example.test" resolving to the local server, whose certificate we trust
    with TlsServer("secure.example.test", tmp_path) as server:
        monkeypatch.setattr(ssrf, "resolve", lambda host, port: ["127.0.0.1"])
        trusted = ssl.create_default_context(cadata=server.cert_pem.decode())
        monkeypatch.setattr(transport, "_ssl_context_once", lambda: trusted)
        yield server


def test_https_connects_to_the_checked_address_and_verifies_the_name(
        tls_server, tenant, allow_loopback, make_http_tool):
    tool = make_http_tool(f"https://secure.example.test:{tls_server.port}/x", method="GET")
    outcome = execute(tool=tool, arguments={},
                      allowlist=tool_network_allowlist(tenant=tenant))
    assert outcome.content == {"secure": True}
    assert tls_server.server_names == ["secure.example.test"]
    assert tls_server.hosts == [f"secure.example.test:{tls_server.port}"]


def test_a_certificate_for_another_name_is_refused(tls_server, tenant, allow_loopback,
                                                   make_http_tool):
    # given the same server reached under a name its certificate does not carry
    tool = make_http_tool(f"https://other.example.test:{tls_server.port}/x", method="GET")
    # when
    outcome = execute(tool=tool, arguments={}, allowlist=tool_network_allowlist(tenant=tenant))
    # then
    assert outcome.status == ExecutionStatus.FAILED
    assert "Hostname mismatch" in outcome.error
    assert tls_server.hosts == []
