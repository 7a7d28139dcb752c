"""HTTP tools end to end against a local server: auth, rendering, timeouts, retries, replies."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time

import pytest
from aiohttp import web

from tools.executor import execute
from tools.models import AuthType, BodyMode, ExecutionStatus
from tools.selectors import tool_network_allowlist
from tools.services import tool_test_run

pytestmark = pytest.mark.django_db


def run(tool, arguments):
    """The executor as the services call it, with the tenant's allowlist."""
    return execute(tool=tool, arguments=arguments,
                   allowlist=tool_network_allowlist(tenant=tool.tenant))


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch):
    monkeypatch.setattr("tools.executor.http_tool.RETRY_BACKOFF_S", 0.01)


def test_bearer_token_is_sent_and_json_reply_is_the_result(target, allow_loopback,
                                                           make_http_tool):
    # given
    target.reply("GET", "/orders/A%2F7", json={"order": "A/7", "state": "shipped"})
    tool = make_http_tool(target.url("/orders/{order_id}"), method="GET", body_mode="none",
                          auth_type=AuthType.BEARER, secrets={"token": "s3cret-token"},
                          parameters={"type": "object",
                                      "properties": {"order_id": {"type": "string"}},
                                      "required": ["order_id"]})
    # when
    outcome = run(tool, {"order_id": "A/7"})
    # then the argument was URL-encoded into the path and the token sent
    assert outcome.status == ExecutionStatus.SUCCEEDED
    assert outcome.content == {"order": "A/7", "state": "shipped"}
    assert outcome.http_status == 200
    assert target.requests[0].path == "/orders/A%2F7"
    assert target.requests[0].headers["Authorization"] == "Bearer s3cret-token"


def test_basic_auth_sends_username_and_password(target, allow_loopback, make_http_tool):
    # given
    target.reply("POST", "/tickets", json={"id": 1}, status=201)
    tool = make_http_tool(target.url("/tickets"), auth_type=AuthType.BASIC,
                          secrets={"username": "agent@acme.test", "password": "p4ss"})
    # when
    outcome = run(tool, {})
    # then
    expected = base64.b64encode(b"agent@acme.test:p4ss").decode()
    assert outcome.status == ExecutionStatus.SUCCEEDED
    assert target.requests[0].headers["Authorization"] == f"Basic {expected}"


def test_api_key_goes_in_the_named_header(target, allow_loopback, make_http_tool):
    # given
    target.reply("POST", "/hook", json={"ok": True})
    tool = make_http_tool(target.url("/hook"), auth_type=AuthType.API_KEY_HEADER,
                          auth_header_name="X-Api-Key", secrets={"api_key": "k-123"})
    # when
    run(tool, {})
    # then
    assert target.requests[0].headers["X-Api-Key"] == "k-123"
    assert "Authorization" not in target.requests[0].headers


def test_hmac_signature_verifies_on_the_receiving_side(target, allow_loopback, make_http_tool):
    # given a receiver that checks the signature the way a tenant's server would
    secret = "whsec-42"

    async def verify(request: web.Request, body: bytes) -> web.Response:
        timestamp = request.headers["X-Aybiza-Timestamp"]
        expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                            hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(timestamp)) < 60
        if fresh and hmac.compare_digest(expected, request.headers["X-Aybiza-Signature"]):
            return web.json_response({"verified": True})
        return web.json_response({"verified": False}, status=401)

    target.route("POST", "/signed", verify)
    tool = make_http_tool(target.url("/signed"), auth_type=AuthType.HMAC_SHA256,
                          secrets={"hmac_secret": secret},
                          parameters={"type": "object", "properties": {"n": {"type": "integer"}}})
    # when
    outcome = run(tool, {"n": 3})
    # then the body was the arguments as JSON and the signature matched it
    assert outcome.content == {"verified": True}
    assert json.loads(target.requests[0].body) == {"n": 3}


def test_hmac_with_a_wrong_secret_is_refused_by_the_receiver(target, allow_loopback,
                                                             make_http_tool):
    # given the same receiver expecting another secret
    async def verify(request: web.Request, body: bytes) -> web.Response:
        timestamp = request.headers["X-Aybiza-Timestamp"]
        expected = hmac.new(b"the-real-secret", f"{timestamp}.".encode() + body,
                            hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(expected, request.headers["X-Aybiza-Signature"])
        return web.json_response({"verified": ok}, status=200 if ok else 401)

    target.route("POST", "/signed", verify)
    tool = make_http_tool(target.url("/signed"), auth_type=AuthType.HMAC_SHA256,
                          secrets={"hmac_secret": "a-guessed-secret"})
    # when
    outcome = run(tool, {})
    # then
    assert outcome.status == ExecutionStatus.FAILED
    assert outcome.http_status == 401


def test_missing_secret_is_a_clear_error_without_a_request(target, allow_loopback,
                                                           make_http_tool):
    # given a bearer tool whose token was never set
    tool = make_http_tool(target.url("/x"), auth_type=AuthType.BEARER)
    # when
    outcome = run(tool, {})
    # then
    assert outcome.is_error and "token" in outcome.content
    assert target.requests == []


def test_body_template_places_typed_values_and_drops_missing_optionals(target, allow_loopback,
                                                                        make_http_tool):
    # given
    target.reply("POST", "/events", json={"id": "ev1"})
    tool = make_http_tool(
        target.url("/events"), body_mode=BodyMode.TEMPLATE,
        headers_template={"X-Party-Size": "{party}"},
        body_template={"title": "Table for {party}", "size": "{party}",
                       "guest": {"email": "{email}"}, "source": "phone"},
        parameters={"type": "object",
                    "properties": {"party": {"type": "integer"},
                                   "email": {"type": "string"}}},
    )
    # when
    run(tool, {"party": 4})
    # then
    sent = target.requests[0]
    assert json.loads(sent.body) == {"title": "Table for 4", "size": 4, "source": "phone"}
    assert sent.headers["X-Party-Size"] == "4"
    assert sent.headers["Content-Type"] == "application/json"


def test_get_with_args_mode_sends_the_arguments_as_query(target, allow_loopback, make_http_tool):
    # given
    target.reply("GET", "/search", json=[])
    tool = make_http_tool(target.url("/search"), method="GET", body_mode=BodyMode.ARGS,
                          parameters={"type": "object", "properties": {"q": {"type": "string"}}})
    # when
    run(tool, {"q": "smith & sons"})
    # then
    assert target.requests[0].query == {"q": "smith & sons"}
    assert target.requests[0].body == b""


def test_non_json_reply_is_returned_as_text(target, allow_loopback, make_http_tool):
    # given
    target.reply("POST", "/plain", text="Booked for 3pm.")
    tool = make_http_tool(target.url("/plain"))
    # when
    outcome = run(tool, {})
    # then
    assert outcome.status == ExecutionStatus.SUCCEEDED
    assert outcome.content == "Booked for 3pm."


def test_long_result_is_capped_for_the_brain(target, allow_loopback, make_http_tool, settings):
    # given a reply far beyond the result cap
    settings.TOOLS_RESULT_MAX_CHARS = 200
    target.reply("POST", "/big", json={"rows": ["x" * 50] * 40})
    tool = make_http_tool(target.url("/big"))
    # when
    outcome = run(tool, {})
    # then
    assert outcome.status == ExecutionStatus.SUCCEEDED
    assert isinstance(outcome.content, str) and len(outcome.content) == 200
    assert outcome.content.endswith("[truncated]")


def test_oversized_reply_with_content_length_is_refused(target, allow_loopback, make_http_tool,
                                                        settings):
    # given
    settings.TOOLS_MAX_RESPONSE_BYTES = 1000
    target.reply("POST", "/huge", text="y" * 5000)
    tool = make_http_tool(target.url("/huge"))
    # when
    outcome = run(tool, {})
    # then
    assert outcome.status == ExecutionStatus.FAILED
    assert "5000 bytes" in outcome.content


def test_oversized_streamed_reply_stops_reading_past_the_limit(target, allow_loopback,
                                                               make_http_tool, settings):
    # given a chunked reply without a length that would go on for 10 MB
    settings.TOOLS_MAX_RESPONSE_BYTES = 64 * 1024
    sent = []

    async def endless(request: web.Request, body: bytes) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            for _ in range(1000):
                await response.write(b"z" * 10_000)
                sent.append(1)
                await asyncio.sleep(0.001)
        except (ConnectionResetError, ConnectionError):
            pass
        return response

    target.route("POST", "/stream", endless)
    tool = make_http_tool(target.url("/stream"))
    # when
    outcome = run(tool, {})
    # then
    assert outcome.status == ExecutionStatus.FAILED
    assert "larger than 65536 bytes" in outcome.content
    assert len(sent) < 1000


def test_slow_service_times_out_at_the_tool_timeout(target, allow_loopback, make_http_tool):
    # given
    target.reply("POST", "/slow", json={}, delay_s=2.0)
    tool = make_http_tool(target.url("/slow"), timeout_ms=300)
    # when
    started = time.monotonic()
    outcome = run(tool, {})
    elapsed = time.monotonic() - started
    # then
    assert outcome.status == ExecutionStatus.TIMEOUT
    assert "300 ms" in outcome.content
    assert elapsed < 1.0


def test_slow_drip_reply_is_cut_at_the_deadline(target, allow_loopback, make_http_tool):
    # given a server that sends a byte every 100 ms (each read alone is quick)
    async def drip(request: web.Request, body: bytes) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        try:
            for _ in range(50):
                await response.write(b".")
                await asyncio.sleep(0.1)
        except ConnectionError:
            pass
        return response

    target.route("POST", "/drip", drip)
    tool = make_http_tool(target.url("/drip"), timeout_ms=400)
    # when
    started = time.monotonic()
    outcome = run(tool, {})
    # then
    assert outcome.status == ExecutionStatus.TIMEOUT
    assert time.monotonic() - started < 0.8


def test_5xx_is_retried_for_an_idempotent_tool(target, allow_loopback, make_http_tool):
    # given a service failing twice, then answering
    replies = iter([503, 502, 200])

    async def flaky(request: web.Request, body: bytes) -> web.Response:
        status = next(replies)
        return web.json_response({"status": status}, status=status)

    target.route("GET", "/flaky", flaky)
    tool = make_http_tool(target.url("/flaky"), method="GET", idempotent=True, max_retries=2)
    # when
    outcome = run(tool, {})
    # then
    assert outcome.status == ExecutionStatus.SUCCEEDED
    assert outcome.attempts == 3
    assert len(target.requests) == 3


def test_5xx_is_not_retried_for_a_non_idempotent_tool(target, allow_loopback, make_http_tool):
    # given
    target.reply("POST", "/charge", json={"error": "boom"}, status=500)
    tool = make_http_tool(target.url("/charge"), idempotent=False, max_retries=3)
    # when
    outcome = run(tool, {})
    # then the service was asked once: it may have charged already
    assert outcome.status == ExecutionStatus.FAILED
    assert outcome.http_status == 500
    assert "HTTP 500" in outcome.content and "boom" in outcome.content
    assert len(target.requests) == 1


def test_retries_stop_at_max_retries(target, allow_loopback, make_http_tool):
    # given
    target.reply("GET", "/down", json={}, status=503)
    tool = make_http_tool(target.url("/down"), method="GET", idempotent=True, max_retries=2)
    # when
    outcome = run(tool, {})
    # then
    assert outcome.status == ExecutionStatus.FAILED
    assert len(target.requests) == 3


def test_timeout_is_retried_only_for_idempotent_tools(target, allow_loopback, make_http_tool):
    # given
    target.reply("POST", "/slow", json={}, delay_s=1.0)
    once = make_http_tool(target.url("/slow"), name="create_thing", timeout_ms=150,
                          max_retries=2)
    again = make_http_tool(target.url("/slow"), name="read_thing", timeout_ms=150,
                           max_retries=2, idempotent=True)
    # when
    first = run(once, {})
    count_after_first = len(target.requests)
    second = run(again, {})
    # then
    assert first.status == second.status == ExecutionStatus.TIMEOUT
    assert count_after_first == 1
    assert len(target.requests) - count_after_first == 3


def test_4xx_is_reported_to_the_brain_and_not_retried(target, allow_loopback, make_http_tool):
    # given
    target.reply("GET", "/orders/9", json={"message": "order not found"}, status=404)
    tool = make_http_tool(target.url("/orders/9"), method="GET", idempotent=True, max_retries=2)
    # when
    outcome = run(tool, {})
    # then
    assert outcome.status == ExecutionStatus.FAILED
    assert "HTTP 404" in outcome.content and "order not found" in outcome.content
    assert len(target.requests) == 1


def test_unreachable_service_is_retried_even_when_not_idempotent(allow_loopback, make_http_tool):
    # given a port nobody listens on (nothing can have been sent)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    tool = make_http_tool(f"http://127.0.0.1:{port}/x", max_retries=2)
    # when
    outcome = run(tool, {})
    # then
    assert outcome.status == ExecutionStatus.FAILED
    assert outcome.attempts == 3
    assert "could not be reached" in outcome.content


def test_schema_invalid_arguments_give_the_brain_a_clear_error(target, allow_loopback,
                                                               make_http_tool):
    # given
    tool = make_http_tool(target.url("/book"), name="book_table",
                          parameters={"type": "object",
                                      "properties": {"party": {"type": "integer", "minimum": 1},
                                                     "date": {"type": "string",
                                                              "format": "date"}},
                                      "required": ["party", "date"]})
    # when
    missing = run(tool, {"party": 2})
    wrong = run(tool, {"party": 0, "date": "2026-12-01"})
    # then the service was never called, and the brain is told what to fix
    assert missing.status == wrong.status == ExecutionStatus.REJECTED
    assert "Invalid arguments for book_table" in missing.content
    assert "'date' is a required property" in missing.content
    assert "party: 0 is less than the minimum of 1" in wrong.content
    assert target.requests == []


def test_redirect_on_the_same_origin_keeps_auth(target, allow_loopback, make_http_tool):
    # given
    target.reply("GET", "/old", json=None, status=307, headers={"Location": "/new"})
    target.reply("GET", "/new", json={"moved": True})
    tool = make_http_tool(target.url("/old"), method="GET", auth_type=AuthType.BEARER,
                          secrets={"token": "t0k"})
    # when
    outcome = run(tool, {})
    # then
    assert outcome.content == {"moved": True}
    assert [r.headers.get("Authorization") for r in target.requests] == ["Bearer t0k"] * 2


def test_redirect_to_another_origin_drops_auth(target, second_target, allow_loopback,
                                               make_http_tool):
    # given
    target.reply("GET", "/go", json=None, status=302,
                 headers={"Location": second_target.url("/landing")})
    second_target.reply("GET", "/landing", json={"here": True})
    tool = make_http_tool(target.url("/go"), method="GET", auth_type=AuthType.BEARER,
                          secrets={"token": "t0k"})
    # when
    outcome = run(tool, {})
    # then
    assert outcome.content == {"here": True}
    assert "Authorization" not in second_target.requests[0].headers


def test_test_run_records_the_execution(target, allow_loopback, make_http_tool):
    # given
    target.reply("POST", "/ping", json={"pong": True}, delay_s=0.05)
    tool = make_http_tool(target.url("/ping"))
    # when
    execution = tool_test_run(tenant=tool.tenant, tool=tool, arguments={})
    # then
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.result == {"pong": True}
    assert execution.latency_ms >= 50
    assert execution.attempts == 1 and execution.http_status == 200
    assert execution.finished_at is not None
