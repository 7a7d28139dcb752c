"""Tool schemas are tenant input and arguments are caller-steered: checking them must stay fast
(RE2, no ReDoS), local (no `$ref` fetch, no file read) and bounded (depth, sizes)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from aybiza.core.errors import ApplicationError
from calls.realtime.providers.llm.base import ToolCall
from tools.models import ExecutionStatus, Tool, ToolExecution
from tools.services import tool_calls_dispatch, tool_create
from tools.validation import json_mismatch, validate_parameters_schema

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
TOOLS = "/api/v1/tools/"
EVIL = "^(a+)+$"  # exponential backtracking on "aaaa…!" in a backtracking engine
# Generous: RE2 answers in well under a millisecond; Python's `re` would take longer than the
# age of the universe on 5,000 characters (27 characters already took 6 s).
FAST_S = 1.0
SUBPROCESS_TIMEOUT_S = 30


def string_schema(**keywords) -> dict:
    return {"type": "object", "properties": {"x": {"type": "string", **keywords}}}


def timed_in_subprocess(code: str) -> dict:
    """Run `code` (which prints a JSON object) in a fresh interpreter, killed after a timeout:
    a regression makes this test fail instead of hanging the suite."""
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO,
                              capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"validation still running after {SUBPROCESS_TIMEOUT_S} s (ReDoS)")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_catastrophic_pattern_on_a_long_argument_is_answered_at_once():
    # given a tenant's pattern that backtracks exponentially, and 5,000 a's and a "!"
    code = f"""
        import json, time
        from tools.validation import json_mismatch
        evil, text = {EVIL!r}, "a" * 5000 + "!"
        cases = {{
            "pattern": ({{"type": "object", "properties": {{"x": {{"pattern": evil}}}}}},
                        {{"x": text}}),
            "patternProperties": ({{"type": "object", "patternProperties": {{evil: {{}}}}}},
                                  {{text: 1}}),
            "additionalProperties": ({{"type": "object", "patternProperties": {{evil: {{}}}},
                                      "additionalProperties": False}}, {{text: 1}}),
        }}
        out = {{}}
        for name, (schema, arguments) in cases.items():
            started = time.monotonic()
            problem = json_mismatch(schema, arguments)
            out[name] = [time.monotonic() - started, problem is not None]
        print(json.dumps(out))
    """
    # when each keyword that runs the pattern checks the argument
    results = timed_in_subprocess(code)
    # then each answers fast, and correctly: the text does not match, so the pattern refuses
    # it; the key is under no pattern property (nothing to check), so it is an extra property
    assert {keyword: refused for keyword, (_, refused) in results.items()} == {
        "pattern": True, "patternProperties": False, "additionalProperties": True}
    for keyword, (seconds, _) in results.items():
        assert seconds < FAST_S, (keyword, seconds)


def test_the_test_endpoint_answers_a_redos_attempt_at_once(api, tenant):
    # given a tool whose argument pattern backtracks exponentially in Python's `re`
    tool = tool_create(tenant=tenant, name="evil", description="Evil.",
                       url_template="https://api.example.com/x", parameters=string_schema(
                           pattern=EVIL))
    # when the tenant tests it with the attack string (27 a's took 6.3 s before, 28 twice that)
    started = time.monotonic()
    response = api.post(f"{TOOLS}{tool.pk}/test/", {"arguments": {"x": "a" * 28 + "!"}})
    elapsed = time.monotonic() - started
    # then the arguments are refused at once, without running anything
    assert elapsed < 2 * FAST_S, elapsed
    assert response.status_code == 200, response.content
    assert response.json()["status"] == ExecutionStatus.REJECTED
    assert "does not match" in response.json()["result"]


@pytest.mark.parametrize("keywords", [
    {"pattern": r"^(a)\1$"},  # backreference
    {"pattern": "^(?=a).*$"},  # lookahead
    {"pattern": "["},
])
def test_patterns_re2_cannot_run_are_refused_when_the_tool_is_saved(tenant, keywords):
    # when / then
    with pytest.raises(ApplicationError) as refused:
        tool_create(tenant=tenant, name="t", description="T.",
                    url_template="https://api.example.com/x", parameters=string_schema(**keywords))
    [message] = refused.value.extra["fields"]["parameters"]
    assert "not supported" in message or "regex" in message


def test_pattern_property_names_re2_cannot_run_are_refused():
    with pytest.raises(Exception, match="not supported"):
        validate_parameters_schema({"type": "object", "patternProperties": {"(a)\\1": {}}})


def test_regex_format_arguments_are_checked_with_re2():
    # given an argument that must itself be a regular expression
    schema = string_schema(format="regex")
    # when / then: RE2 syntax is the rule (a lookahead is not a pattern we could run)
    assert json_mismatch(schema, {"x": "^[a-z]+$"}) is None
    assert "is not a 'regex'" in json_mismatch(schema, {"x": "(?=a)"})


def test_unevaluated_properties_with_pattern_properties_is_refused():
    # jsonschema runs patternProperties through Python's `re` when it evaluates these
    with pytest.raises(Exception, match="unevaluatedProperties"):
        validate_parameters_schema({"type": "object", "patternProperties": {"^a": {}},
                                    "unevaluatedProperties": False})


# --- $ref --------------------------------------------------------------------------------------


def remote_ref_schema(url: str) -> dict:
    return {"type": "object", "properties": {"x": {"$ref": url}}}


def test_a_remote_ref_is_refused_at_save_and_never_fetched(tenant, target):
    # given a loopback server that records what it is asked for
    target.reply("GET", "/schema.json", json={"type": "string", "maxLength": 1})
    url = target.url("/schema.json")
    # when a tenant saves a tool whose schema refers to it
    with pytest.raises(ApplicationError) as refused:
        tool_create(tenant=tenant, name="t", description="T.",
                    url_template="https://api.example.com/x", parameters=remote_ref_schema(url))
    # and a schema stored before this rule is used to check arguments
    problem = json_mismatch(remote_ref_schema(url), {"x": "too long"})
    # then nothing was fetched, and both say why
    assert target.requests == []
    assert "points outside the schema" in refused.value.extra["fields"]["parameters"][0]
    assert "cannot be used" in problem


def test_a_file_ref_is_never_read(tmp_path):
    # given a local JSON file that would reject the argument if it were read
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"type": "string", "maxLength": 1, "title": "SECRET"}))
    schema = remote_ref_schema(secret.as_uri())
    # when
    problem = json_mismatch(schema, {"x": "longer than one"})
    # then the file played no part: the schema itself is refused
    assert "cannot be used" in problem and "too long" not in problem
    with pytest.raises(Exception, match="points outside the schema"):
        validate_parameters_schema(schema)


def test_a_stored_ref_through_id_resolves_nothing_remote(target):
    # given a schema (saved before the rules) that moves its base URI to the server
    target.reply("GET", "/defs.json", json={"type": "string", "maxLength": 1})
    schema = {"$id": target.url("/"), "type": "object",
              "properties": {"x": {"$ref": "defs.json"}}}
    # when
    problem = json_mismatch(schema, {"x": "too long"})
    # then
    assert target.requests == []
    assert "cannot be used" in problem


@pytest.mark.parametrize("schema, says", [
    ({"type": "object", "$id": "https://example.com/tool"}, "$id"),
    ({"type": "object", "$schema": "http://json-schema.org/draft-04/schema#"}, "$schema"),
    ({"type": "object", "properties": {"x": {"$dynamicRef": "https://example.com/s#meta"}}},
     "$dynamicRef"),
    ({"type": "object", "properties": {"x": {"$ref": "#/$defs/missing"}}}, "does not point"),
])
def test_references_that_leave_the_document_are_refused(schema, says):
    with pytest.raises(Exception, match=f"\\{says}" if says.startswith("$") else says):
        validate_parameters_schema(schema)


def test_local_references_still_work():
    # given
    schema = {"type": "object", "$schema": "https://json-schema.org/draft/2020-12/schema",
              "$defs": {"day": {"type": "string", "enum": ["mon", "tue"]}},
              "properties": {"day": {"$ref": "#/$defs/day"}}}
    validate_parameters_schema(schema)
    # when / then
    assert json_mismatch(schema, {"day": "mon"}) is None
    assert "is not one of" in json_mismatch(schema, {"day": "sun"})


# --- sizes -------------------------------------------------------------------------------------


def nested_schema(levels: int) -> dict:
    schema: dict = {"type": "object"}
    node = schema
    for _ in range(levels):
        node["properties"] = {"a": {"type": "object"}}
        node = node["properties"]["a"]
    return schema


def test_a_schema_nested_400_levels_is_a_clear_400(api):
    # when
    response = api.post(TOOLS, {"name": "deep", "description": "Deep.",
                                "url_template": "https://api.example.com/x",
                                "parameters": nested_schema(400)})
    # then
    assert response.status_code == 400, response.content[:300]
    assert "nested deeper than" in json.dumps(response.json())
    assert not Tool.objects.filter(name="deep").exists()


def deep_arguments(levels: int) -> dict:
    arguments: dict = {}
    node = arguments
    for _ in range(levels):
        node["x"] = {}
        node = node["x"]
    return arguments


@pytest.mark.parametrize("arguments, says", [
    ({"x": "a" * 5000}, "longer than 4000 characters"),
    ({"x": "a" * 3000, "y": "b" * 3000, "z": ["c" * 3000] * 4}, "larger than 16000 characters"),
    # 20 levels: past the tool limit (16), under the request parser's (32)
    (deep_arguments(20), "nested deeper than 16 levels"),
])
def test_the_test_endpoint_refuses_oversized_arguments(api, tenant, arguments, says):
    # given
    tool = tool_create(tenant=tenant, name="t", description="T.",
                       url_template="https://api.example.com/x", parameters=string_schema())
    # when
    response = api.post(f"{TOOLS}{tool.pk}/test/", {"arguments": arguments})
    # then
    assert response.status_code == 400, response.content[:300]
    assert says in json.dumps(response.json())
    assert not ToolExecution.objects.filter(tool=tool).exists()


def test_oversized_arguments_from_a_call_are_refused_and_not_stored(tenant, agent):
    # given a tool of the agent, and a brain (steered by the caller) sending a huge argument
    tool_create(tenant=tenant, name="t", description="T.", agent_ids=[agent.id],
                url_template="https://api.example.com/x", parameters=string_schema())
    huge = ToolCall("toolu_1", "t", {"x": "a" * 5000})
    # when (its task, queued after commit, only reports what is stored)
    [execution_id] = tool_calls_dispatch(tenant_id=tenant.id, call_id=None, agent_id=agent.id,
                                         calls=[huge], reply_channel="")
    # then
    execution = ToolExecution.objects.get(pk=execution_id)
    assert execution.status == ExecutionStatus.REJECTED
    assert "longer than" in execution.result
    assert execution.arguments == {} and execution.sealed_arguments == ""


def test_formats_are_checked_the_same_whatever_packages_are_installed():
    from tools.validation import schema_validator

    # the standard library's formats are checked; the others are annotations (a spoken time is
    # a fine `date-time` for a tool that reads it), even where rfc3339-validator is installed
    validator = schema_validator({"type": "object", "properties": {
        "day": {"type": "string", "format": "date"},
        "when": {"type": "string", "format": "date-time"},
        "site": {"type": "string", "format": "uri"}}})
    assert not list(validator.iter_errors({"day": "2026-12-08", "when": "Tuesday at ten",
                                           "site": "not a uri"}))
    assert [e.message for e in validator.iter_errors({"day": "Tuesday"})] == [
        "'Tuesday' is not a 'date'"]
