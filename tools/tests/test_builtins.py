"""Built-ins against the Twilio REST fake (real twilio library as client), mail and the DB."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from calls.models import CallEvent, Outcome
from calls.services import call_finish, call_start
from tools.executor import execute
from tools.models import ExecutionStatus
from tools.services import tool_create
from tools.tests.conftest import CALLER

pytestmark = pytest.mark.django_db


def builtin(tenant, name, **fields):
    return tool_create(tenant=tenant, kind="builtin", builtin_name=name, **fields)


def test_end_call_completes_the_live_call(tenant, live_call, fake_twilio_rest):
    # when
    outcome = execute(tool=builtin(tenant, "end_call"), arguments={}, call=live_call)
    # then
    assert outcome.status == ExecutionStatus.SUCCEEDED
    request = fake_twilio_rest.last("calls.update")
    assert request.authorized and request.sid == live_call.call_sid
    assert request.value("Status") == "completed"
    assert fake_twilio_rest.calls[live_call.call_sid]["status"] == "completed"
    assert CallEvent.objects.filter(call=live_call, type="tool.end_call").exists()


def test_cold_transfer_dials_the_destination(tenant, live_call, fake_twilio_rest):
    # given
    tool = builtin(tenant, "transfer_call",
                   builtin_config={"destinations": {"front_desk": "+15550102222"},
                                   "caller_id": "+15550100000"})
    # when
    outcome = execute(tool=tool, arguments={"destination": "front_desk"}, call=live_call)
    # then the call's TwiML is replaced by a <Dial> to the number
    assert outcome.status == ExecutionStatus.SUCCEEDED
    assert outcome.content == {"transferred": True, "destination": "front_desk", "mode": "cold"}
    twiml = fake_twilio_rest.last("calls.update").value("Twiml")
    dial = ET.fromstring(twiml).find("./Dial")
    assert (dial.get("callerId"), dial.get("timeout"), dial.find("Number").text) == (
        "+15550100000", "20", "+15550102222")
    # and Twilio asks us what next when that leg ends (calls/transfers.py: back to the agent)
    assert dial.get("action").startswith(settings.PUBLIC_BASE_URL
                                         + "/twilio/transfer/dial-result/?t=")
    event = CallEvent.objects.get(call=live_call, type="tool.transfer")
    assert event.payload["destination"] == "front_desk" and event.payload["mode"] == "cold"


def test_a_transfer_to_a_sip_address_dials_it(tenant, live_call, fake_twilio_rest):
    tool = builtin(tenant, "transfer_call",
                   builtin_config={"destinations": {"desk": "sip:reception@pbx.acme.test:5060"}})
    outcome = execute(tool=tool, arguments={}, call=live_call)
    assert outcome.status == ExecutionStatus.SUCCEEDED
    twiml = fake_twilio_rest.last("calls.update").value("Twiml")
    assert "<Sip>sip:reception@pbx.acme.test:5060</Sip>" in twiml


@pytest.mark.parametrize("target", ["0800 FLOWERS", "sip:nobody", "http://10.0.0.1/",
                                    "sip:a@b c", "+1555"])
def test_a_transfer_target_that_is_neither_a_number_nor_a_sip_address_is_refused(tenant,
                                                                                  target):
    from aybiza.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        builtin(tenant, "transfer_call", builtin_config={"destinations": {"x": target}})
    [message] = refused.value.extra["fields"]["builtin_config"]
    assert message.startswith("destinations/x: ") and "nor a SIP address" in message


def test_transfer_to_an_unknown_destination_is_an_error_for_the_brain(tenant, live_call,
                                                                       fake_twilio_rest):
    tool = builtin(tenant, "transfer_call",
                   builtin_config={"destinations": {"sales": "+15550104444",
                                                    "support": "+15550105555"}})
    outcome = execute(tool=tool, arguments={"destination": "ceo"}, call=live_call)
    assert outcome.is_error and "sales, support" in outcome.content
    assert [r for r in fake_twilio_rest.requests if r.resource == "calls.update"] == []


def test_twilio_refusal_is_reported(tenant, live_call, fake_twilio_rest):
    # given
    fake_twilio_rest.fail_next(status=400, code=21220, message="Call is not in-progress.")
    # when
    outcome = execute(tool=builtin(tenant, "end_call"), arguments={}, call=live_call)
    # then
    assert outcome.status == ExecutionStatus.FAILED
    assert "Call is not in-progress." in outcome.content


def test_without_an_account_sid_transfer_and_hang_up_say_not_configured(tenant, live_call,
                                                                        settings):
    # given
    settings.TWILIO_ACCOUNT_SID = ""
    transfer = builtin(tenant, "transfer_call",
                       builtin_config={"destinations": {"desk": "+15550102222"}})
    # when
    outcomes = [execute(tool=transfer, arguments={}, call=live_call),
                execute(tool=builtin(tenant, "end_call"), arguments={}, call=live_call)]
    # then
    for outcome in outcomes:
        assert outcome.status == ExecutionStatus.REJECTED
        assert "not configured" in outcome.content


def test_send_sms_texts_the_caller_from_the_called_number(tenant, live_call, fake_twilio_rest,
                                                          phone_number):
    # when
    outcome = execute(tool=builtin(tenant, "send_sms"), call=live_call,
                      arguments={"body": "Your booking: Tue 9:00, 12 Main Street."})
    # then
    assert outcome.status == ExecutionStatus.SUCCEEDED
    assert outcome.content["message_sid"].startswith("SM")
    request = fake_twilio_rest.last("messages.create")
    assert (request.value("To"), request.value("From")) == (CALLER, phone_number.e164)
    assert request.value("Body") == "Your booking: Tue 9:00, 12 Main Street."


def test_lookup_caller_reports_this_tenants_history_only(tenant, other_tenant, phone_number,
                                                         live_call):
    # given two earlier calls from the same number here, and one at another tenant
    earlier = timezone.now() - timedelta(days=3)
    for index, outcome in enumerate([Outcome.CALLER_HUNG_UP, Outcome.TRANSFERRED]):
        call = call_start(tenant=tenant, phone_number=phone_number, call_sid=f"CA-old-{index}",
                          from_number=CALLER, to_number=phone_number.e164)
        call.started_at = earlier + timedelta(hours=index)
        call.save(update_fields=["started_at"])
        call_finish(call=call, outcome=outcome)
    call_start(tenant=other_tenant, phone_number=None, call_sid="CA-elsewhere",
               from_number=CALLER, to_number="+15550199999")
    # when
    outcome = execute(tool=builtin(tenant, "lookup_caller"), arguments={}, call=live_call)
    # then
    assert outcome.content["previous_calls"] == 2
    assert outcome.content["known_caller"] is True
    assert outcome.content["last_outcome"] == Outcome.TRANSFERRED
    assert outcome.content["last_call_at"].startswith((earlier + timedelta(hours=1)).date()
                                                      .isoformat())


def test_lookup_of_a_first_time_caller(tenant, live_call):
    outcome = execute(tool=builtin(tenant, "lookup_caller"), arguments={}, call=live_call)
    assert outcome.content == {"phone_number": CALLER, "known_caller": False,
                               "previous_calls": 0, "last_call_at": None, "last_outcome": None}


def test_send_email_goes_to_the_configured_team(tenant, live_call, mailoutbox):
    # given
    tool = builtin(tenant, "send_email", builtin_config={"to": ["desk@acme.test"],
                                                         "subject_prefix": "[Call] "})
    # when
    outcome = execute(tool=tool, call=live_call,
                      arguments={"subject": "Callback", "body": "Please call Jane back."})
    # then
    assert outcome.status == ExecutionStatus.SUCCEEDED
    [mail] = mailoutbox
    assert mail.to == ["desk@acme.test"] and mail.subject == "[Call] Callback"
    assert "Please call Jane back." in mail.body and CALLER in mail.body


def test_builtin_config_is_validated(tenant):
    from aybiza.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        builtin(tenant, "transfer_call", builtin_config={"destinations": {"x": "0800 FLOWERS"}})
    assert "builtin_config" in refused.value.extra["fields"]
