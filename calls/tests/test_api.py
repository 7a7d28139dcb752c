"""/api/v1/calls/: the tenant's call history, filtered, and one call with its turns and events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from agents.services import agent_create, phone_number_create
from calls.models import Call
from calls.services import call_finish, call_start, call_update_status, event_record, turn_save

T0 = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def history(tenant, agent, phone_number):
    """Four calls of the tenant, an hour apart, with different agents, callers and statuses."""
    night = agent_create(tenant=tenant, name="Night line")
    night_number = phone_number_create(tenant=tenant, e164="+15550100777", agent_id=night.id)
    rows = [
        ("CA" + "a" * 32, phone_number, "+14155552671", "completed"),
        ("CA" + "b" * 32, phone_number, "+12125550199", "no-answer"),
        ("CA" + "c" * 32, night_number, "+14155552671", "completed"),
        ("CA" + "d" * 32, night_number, "+442079460000", "in-progress"),
    ]
    calls = {}
    for hour, (sid, number, caller, status) in enumerate(rows):
        call = call_start(tenant=tenant, phone_number=number, call_sid=sid, from_number=caller,
                          to_number=number.e164)
        Call.objects.filter(pk=call.pk).update(started_at=T0 + timedelta(hours=hour))
        call_update_status(call=call, status=status)
        calls[sid[2]] = call
    return {"calls": calls, "agent": agent, "night": night}


def _sids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["call_sid"][2] for row in response.json()["results"]]


def test_list_is_newest_first(api, history):
    assert _sids(api.get("/api/v1/calls/")) == ["d", "c", "b", "a"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"status": "completed"}, ["c", "a"]),
        ({"status": "no-answer"}, ["b"]),
        ({"number": "+14155552671"}, ["c", "a"]),  # the caller's side
        ({"number": "+1 (555) 010-0777"}, ["d", "c"]),  # the dialled side, typed loosely
        ({"call_sid": "CA" + "b" * 32}, ["b"]),
        ({"started_after": (T0 + timedelta(hours=1)).isoformat()}, ["d", "c", "b"]),
        ({"started_before": (T0 + timedelta(hours=1)).isoformat()}, ["a"]),
        ({"started_after": T0.isoformat(), "started_before": "2025-11-03T10:30:00Z"}, ["b", "a"]),
        ({"status": "completed", "number": "+14155552671",
          "started_after": "2025-11-03T09:30:00+00:00"}, ["c"]),
        ({"status": "busy"}, []),
    ],
)
def test_filters(api, history, params, expected):
    assert _sids(api.get("/api/v1/calls/", params)) == expected


def test_filter_by_agent(api, history):
    assert _sids(api.get("/api/v1/calls/", {"agent": history["night"].id})) == ["d", "c"]
    assert _sids(api.get("/api/v1/calls/", {"agent": history["agent"].id})) == ["b", "a"]


def test_filter_by_another_tenants_agent_finds_nothing(api, history, other_tenant):
    theirs = agent_create(tenant=other_tenant, name="Theirs")
    number = phone_number_create(tenant=other_tenant, e164="+15550100888", agent_id=theirs.id)
    call_start(tenant=other_tenant, phone_number=number, call_sid="CA" + "e" * 32,
               from_number="+14155552671", to_number=number.e164)
    assert _sids(api.get("/api/v1/calls/", {"agent": theirs.id})) == []
    assert _sids(api.get("/api/v1/calls/", {"call_sid": "CA" + "e" * 32})) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "exploded"}, "status"),
        ({"agent": "front-desk"}, "agent"),
        ({"agent": "0"}, "agent"),
        ({"number": "twelve"}, "number"),
        ({"started_after": "yesterday"}, "started_after"),
        ({"started_before": "2025-13-45"}, "started_before"),
        ({"started_after": "2025-11-04T00:00:00Z", "started_before": "2025-11-03T00:00:00Z"},
         "started_before"),
    ],
)
def test_bad_filter_values_are_400_naming_the_parameter(api, history, params, field):
    response = api.get("/api/v1/calls/", params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error


def test_list_is_paginated(api, history):
    page = api.get("/api/v1/calls/", {"limit": 3}).json()
    assert page["count"] == 4
    assert len(page["results"]) == 3
    assert _sids(api.get(page["next"])) == ["a"]


def test_detail_has_turns_and_events_in_order(api, history):
    # given a call with a conversation and events, recorded out of order
    call = history["calls"]["a"]
    turn_save(call=call, index=1, role="caller", text="What are your hours?", start_ms=2100,
              end_ms=3400, confidence=0.91)
    turn_save(call=call, index=0, role="agent", text="Hello, thanks for calling.", start_ms=0,
              end_ms=1800, first_frame_ms=310)
    event_record(call=call, type="barge_in", offset_ms=1500)
    event_record(call=call, type="dtmf", payload={"digit": "1"}, offset_ms=4000)
    call_finish(call=call, outcome="caller_hung_up", metrics={"frames_in": 250})
    # when
    response = api.get(f"/api/v1/calls/{call.id}/")
    # then
    assert response.status_code == 200
    detail = response.json()
    assert detail["call_sid"] == call.call_sid
    assert detail["agent_id"] == history["agent"].id
    assert detail["outcome"] == "caller_hung_up"
    assert detail["metrics"] == {"frames_in": 250}
    assert [(t["index"], t["role"], t["text"]) for t in detail["turns"]] == [
        (0, "agent", "Hello, thanks for calling."), (1, "caller", "What are your hours?")]
    assert detail["turns"][0]["first_frame_ms"] == 310
    assert detail["turns"][1]["confidence"] == 0.91
    assert [(e["type"], e["payload"]) for e in detail["events"]] == [
        ("barge_in", {}), ("dtmf", {"digit": "1"})]


def test_list_rows_leave_turns_out(api, history):
    row = api.get("/api/v1/calls/").json()["results"][0]
    assert "turns" not in row and "events" not in row
    assert {"id", "call_sid", "status", "from_number", "to_number", "started_at",
            "duration_seconds", "outcome"} <= set(row)


def test_stored_calls_cannot_be_edited_or_deleted(api, history):
    # (POST places an outbound call: calls/tests/test_outbound.py)
    call = history["calls"]["a"]
    assert api.delete(f"/api/v1/calls/{call.id}/").status_code == 405
    assert api.patch(f"/api/v1/calls/{call.id}/", {"status": "failed"},
                     format="json").status_code == 405
    assert Call.objects.get(pk=call.pk).status == "completed"


def test_reading_a_transcript_is_audited(api, tenant, phone_number):
    from calls.services import call_start
    from compliance.models import AuditEvent

    call = call_start(tenant=tenant, phone_number=phone_number, call_sid="CA" + "9" * 32,
                      from_number="+15557654321", to_number=phone_number.e164)

    response = api.get(f"/api/v1/calls/{call.id}/")

    assert response.status_code == 200
    event = AuditEvent.objects.filter(action="call.transcript_accessed").get()
    assert event.actor.startswith("api-key:") and event.target_id == str(call.id)


def test_turn_save_is_one_row_per_index_and_a_retry_overwrites(history):
    # given a saved turn
    call = history["calls"]["a"]
    first = turn_save(call=call, index=0, role="agent", text="Hello there.", start_ms=0,
                      end_ms=900, first_frame_ms=320)
    created_at = call.turns.get(index=0).created_at
    # when the same turn is saved again (a barge-in truncated it), with fewer fields
    turn_save(call=call, index=0, role="agent", text="Hello", interrupted=True)
    # then there is still one row: the new text, the flags given, the fields not given kept
    row = call.turns.get(index=0)
    assert call.turns.count() == 1
    assert first.pk == row.pk
    assert (row.text, row.interrupted, row.first_frame_ms, row.end_ms) == ("Hello", True, 320, 900)
    assert row.created_at == created_at and row.updated_at >= created_at
    assert row.tenant_id == call.tenant_id


def test_the_business_name_in_the_agents_own_lines_is_not_redacted(history):
    # given an agent whose outbound lines name the practice as callers know it (not as the
    # tenant is called)
    agent = history["agent"]
    agent.outbound_greeting = "Hi {{name}}, this is Bright Smile calling about your check-up."
    agent.save()
    call = Call.objects.select_related("agent", "tenant").get(pk=history["calls"]["a"].pk)
    # when the agent says it to a callee named Jane Porter
    turn_save(call=call, index=0, role="agent",
              text="Hi Jane Porter, this is Bright Smile calling about your check-up.")
    # then the callee's name is redacted and the practice's is not
    assert call.turns.get(index=0).text == (
        "Hi [NAME], this is Bright Smile calling about your check-up.")
    # while a caller's words are redacted as ever, whatever the agent's lines say
    turn_save(call=call, index=1, role="caller", text="This is Bright Smile speaking.")
    assert call.turns.get(index=1).text == "This is [NAME] speaking."
