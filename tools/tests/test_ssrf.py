"""The SSRF guard: what is refused without an allowlist, what an allowlist opens, and pinning."""

from __future__ import annotations

import pytest

from tools import ssrf
from tools.executor import execute
from tools.models import ExecutionStatus
from tools.selectors import tool_network_allowlist
from tools.services import tool_network_allowlist_set
from tools.ssrf import RequestRefused, check_url, parse_allowlist

pytestmark = pytest.mark.django_db


def run(tool, arguments=None):
    return execute(tool=tool, arguments=arguments or {},
                   allowlist=tool_network_allowlist(tenant=tool.tenant))


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:8000/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://localhost/", "blocked"),  # a name: see the internal DNS oracle test below
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://10.1.2.3/", "private"),
    ("http://192.168.0.10/", "private"),
    ("http://172.16.5.5/", "private"),
    ("http://100.64.0.1/", "non-public"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://169.254.10.1/", "link-local"),
    ("http://224.0.0.1/", "multicast"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://240.0.0.1/", "reserved"),
])
def test_non_public_addresses_are_refused_without_an_allowlist(url, reason):
    # when / then
    with pytest.raises(RequestRefused, match=reason):
        check_url(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/", "gopher://x/",
                                 "http://user:pw@example.com/"])
def test_other_schemes_and_credentials_in_urls_are_refused(url):
    with pytest.raises(RequestRefused):
        check_url(url)


def test_a_public_address_passes_and_is_pinned():
    # when (no connection is made: check_url only resolves)
    target = check_url("https://93.184.216.34:8443/x")
    # then
    assert (target.ip, target.port, target.host) == ("93.184.216.34", 8443, "93.184.216.34")


def test_a_name_resolving_to_a_private_address_is_refused(monkeypatch):
    # given a public-looking name whose DNS answer is internal
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: ["10.0.0.7"])
    # when / then
    with pytest.raises(RequestRefused, match="blocked") as refused:
        check_url("https://crm.example.com/api")
    assert "10.0.0.7" not in str(refused.value)  # no oracle for internal DNS
    assert refused.value.reason == "resolves to a private address"  # for operators only


def test_a_name_that_resolves_internally_reads_like_one_that_does_not_resolve(monkeypatch):
    # given one internal name that resolves to a private address and one that does not resolve
    import socket

    def internal_dns(host, port, **kwargs):
        if host == "db.internal.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", internal_dns)
    # when the tenant probes both
    messages = []
    for host in ("db.internal.example", "nothing.internal.example"):
        with pytest.raises(RequestRefused) as refused:
            check_url(f"http://{host}/")
        messages.append(str(refused.value).replace(host, "HOST"))
    # then the answers are the same: whether a name exists inside stays unknown
    assert messages == ["Refused to connect to HOST: blocked."] * 2


def test_international_names_are_resolved_and_pinned_in_their_ascii_form(monkeypatch):
    asked = []
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: asked.append(host) or ["8.8.8.8"])
    target = check_url("https://münchen.example/termine")
    assert asked == ["xn--mnchen-3ya.example"] and target.host == "xn--mnchen-3ya.example"


def test_one_private_answer_among_public_ones_is_enough_to_refuse(monkeypatch):
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: ["93.184.216.34", "127.0.0.1"])
    with pytest.raises(RequestRefused):
        check_url("https://crm.example.com/")


def test_allowlisted_network_and_host_open_private_addresses(monkeypatch):
    # given
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: ["10.20.0.5"])
    by_network = parse_allowlist(["10.20.0.0/16"])
    by_host = parse_allowlist(["*.corp.example"])
    # when
    via_network = check_url("http://anything.example/", by_network)
    via_host = check_url("http://crm.corp.example/", by_host)
    # then
    assert via_network.ip == via_host.ip == "10.20.0.5"
    with pytest.raises(RequestRefused):
        check_url("http://crm.other.example/", by_host)


def test_a_host_allowlist_never_opens_cloud_metadata(monkeypatch):
    # given an allowlisted name that points at the metadata service
    monkeypatch.setattr(ssrf, "resolve", lambda host, port: ["169.254.169.254"])
    # when / then
    with pytest.raises(RequestRefused, match="blocked") as refused:
        check_url("http://meta.corp.example/", parse_allowlist(["meta.corp.example"]))
    assert refused.value.reason == "resolves to a cloud metadata address"


def test_bad_allowlist_entries_are_refused(tenant):
    from aybiza.core.errors import ApplicationError

    with pytest.raises(ApplicationError):
        tool_network_allowlist_set(tenant=tenant, entries=["not a host!"])


def test_loopback_tool_is_rejected_without_the_allowlist(target, make_http_tool):
    # given a tenant without any allowlist and a tool pointing at a local server
    target.reply("POST", "/admin", json={"secret": "internal"})
    tool = make_http_tool(target.url("/admin"))
    # when
    outcome = run(tool)
    # then
    assert outcome.status == ExecutionStatus.REJECTED
    assert "loopback" in outcome.content
    assert target.requests == []


def test_redirect_to_a_private_address_is_refused(target, allow_loopback, make_http_tool):
    # given an allowed server that redirects to the metadata service and to a private host
    target.reply("GET", "/meta", json=None, status=302,
                 headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    target.reply("GET", "/lan", json=None, status=301, headers={"Location": "http://10.0.0.1/"})
    meta = make_http_tool(target.url("/meta"), name="meta", method="GET")
    lan = make_http_tool(target.url("/lan"), name="lan", method="GET")
    # when
    to_meta, to_lan = run(meta), run(lan)
    # then
    assert to_meta.status == to_lan.status == ExecutionStatus.REJECTED
    assert "metadata" in to_meta.content and "private" in to_lan.content


def test_redirect_to_an_unallowed_loopback_port_is_refused(target, second_target, tenant,
                                                           make_http_tool):
    # given only the first server's name is allowlisted (by host, not network)
    tool_network_allowlist_set(tenant=tenant, entries=["localhost"])
    target.reply("GET", "/hop", json=None, status=302,
                 headers={"Location": second_target.url("/inner")})
    second_target.reply("GET", "/inner", json={"reached": True})
    tool = make_http_tool(f"http://localhost:{target.port}/hop", method="GET")
    # when
    outcome = run(tool)
    # then the first hop went through, the redirect to 127.0.0.1 did not
    assert len(target.requests) == 1
    assert outcome.status == ExecutionStatus.REJECTED
    assert second_target.requests == []


def test_connection_goes_to_the_checked_address_with_the_name_as_host(target, tenant,
                                                                     make_http_tool,
                                                                     monkeypatch):
    # given a name that resolves once to the allowed local server, then to somewhere else
    answers = iter([["127.0.0.1"], ["10.255.255.1"]])
    calls = []

    def resolver(host, port):
        calls.append(host)
        return next(answers)

    monkeypatch.setattr(ssrf, "resolve", resolver)
    tool_network_allowlist_set(tenant=tenant, entries=["127.0.0.1"])
    target.reply("GET", "/pinned", json={"ok": True})
    tool = make_http_tool(f"http://tools.example.test:{target.port}/pinned", method="GET")
    # when
    outcome = run(tool)
    # then DNS was asked once, the checked address was used, and the server saw the name
    assert outcome.content == {"ok": True}
    assert calls == ["tools.example.test"]
    assert target.requests[0].headers["Host"] == f"tools.example.test:{target.port}"
