"""Every /api/v1/ operation fuzzed from the OpenAPI schema (schemathesis, bounded examples):
whatever a client sends, the answer is never a 5xx. Runs in-process against the WSGI app with a
real API key of a tenant that has an agent, a number, a call and a tool, so ids can hit rows.

Operations that reach outside the machine by design are left out: a tool's test run, installing
from the catalog (third-party URLs) and webhook redelivery (the tenant's URL); their input
handling has its own tests."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

EXAMPLES = 8


@pytest.fixture
def in_test_transaction():
    """Requests run inside the test's transaction, as Django's test client does it: the WSGI
    handler must not close the connection at the end of each request."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(db, in_test_transaction, tenant, agent, phone_number):
    from django.core.wsgi import get_wsgi_application

    from calls.services import call_start
    from tools.services import tool_create

    call_start(tenant=tenant, phone_number=phone_number, call_sid="CA" + "1" * 32,
               from_number="+15557654321", to_number=phone_number.e164)
    tool_create(tenant=tenant, name="lookup", description="Look up.",
                url_template="http://192.0.2.1/x", agent_ids=[agent.id])
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    return (schema.exclude(path_regex=r"/tools/\{[^}]+\}/test/$")
            .exclude(path_regex=r"/tool-catalog/")
            .exclude(path_regex=r"/webhooks/\{[^}]+\}/redeliver/$"))


@pytest.fixture
def api_key(tenant) -> str:
    from aybiza.core.services import api_key_create

    return api_key_create(tenant=tenant, name="fuzz", scopes=["read", "write"]).key


def test_no_input_makes_the_api_answer_5xx(api_schema, api_key):
    # schemathesis' pytest plugin does not run under pytest 9 yet: each operation's strategy is
    # driven by hypothesis directly, valid inputs and invalid ones alike.
    from schemathesis.generation import GenerationMode

    headers = {"Authorization": f"Bearer {api_key}"}
    server_errors: list[str] = []
    exchanges: list[int] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def exchange(case) -> None:
                response = case.call(headers=headers)
                exchanges.append(response.status_code)
                if response.status_code >= 500:
                    server_errors.append(
                        f"{case.method} {case.formatted_path} query={case.query} "
                        f"headers={case.headers} body={str(case.body)[:200]} → "
                        f"{response.status_code}")

            exchange()
    assert operations >= 40 and len(exchanges) >= 4 * operations  # it really sent requests
    assert {status // 100 for status in exchanges} >= {2, 4}  # valid ones pass, invalid ones 400
    assert server_errors == []


# The shapes the second black-box probe sent by hand (issue 22 #8), to every operation.
HUGE_ID = str(2**63)
DEEP_JSON = "[" * 50_000 + "]" * 50_000
BAD_TEXT_BODIES = ['{"name": "a\\ud800b"}', '{"name": "a\\u0000b"}', '{"a\\u0000": 1}']
# Query strings as bytes on the wire: the UTF-8 encoding of a surrogate is itself invalid UTF-8.
BAD_QUERY = (f"agent={HUGE_ID}&tool={HUGE_ID}&call={HUGE_ID}&limit={HUGE_ID}&offset={HUGE_ID}"
             "&status=%ED%A0%80&q=%00")


def test_the_probes_shapes_never_make_the_api_answer_5xx(api_schema, api_key):
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    server_errors: list[str] = []
    sent = named_the_problem = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        method = operation.method.lower()
        # Ids past any database's integer range, and (for writes) the tenant's own rows.
        huge, real = operation.path, operation.path
        for parameter in operation.path_parameters:
            huge = huge.replace("{" + parameter.name + "}", HUGE_ID)
            real = real.replace("{" + parameter.name + "}", _first_id(client, operation.path))
        requests = [(huge, {"QUERY_STRING": BAD_QUERY}, None)]
        if method in ("post", "put", "patch"):
            requests += [(real, {}, body) for body in (DEEP_JSON, *BAD_TEXT_BODIES)]
        for url, extra, body in requests:
            send = getattr(client, method)
            response = (send(url, **extra) if body is None else
                        send(url, data=body, content_type="application/json", **extra))
            sent += 1
            named_the_problem += response.status_code == 400 and (
                b"surrogate" in response.content or b"NUL" in response.content)
            if response.status_code >= 500:
                server_errors.append(f"{method.upper()} {url} {extra} {str(body)[:40]} → "
                                     f"{response.status_code}")
    assert sent >= 80
    assert named_the_problem >= 20  # the bodies reached the parser, which said what was wrong
    assert server_errors == []


def _first_id(client, path_template: str) -> str:
    """The id of the tenant's first row in the collection `path_template` starts with."""
    collection = path_template.split("{", 1)[0]
    listed = client.get(collection)
    results = listed.json().get("results", []) if listed.status_code == 200 else []
    return str(results[0]["id"]) if results else "1"
