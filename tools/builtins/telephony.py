"""Built-ins that act on the phone call: transfer, hang up, text the caller."""

from __future__ import annotations

import re
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException

from calls.realtime.call_control import TRANSFER_CALL, TRANSFER_SUMMARY_MAX_CHARS
from calls.services import event_record
from calls.transfers import (
    TransferNotStarted,
    transfer_cold_start,
    transfer_warm_start,
)
from tools.builtins.base import (
    E164_SCHEMA,
    SIP_URI_SCHEMA,
    Builtin,
    BuiltinContext,
    foreign_number_message,
    our_number,
    remote_number,
    tenant_owns_number,
)
from tools.builtins.twilio_rest import not_configured, twilio_client
from tools.executor.outcome import ToolOutcome, failed, succeeded
from tools.models import ExecutionStatus

DEFAULT_DIAL_TIMEOUT_S = 20


def _twilio_error(exc: TwilioException) -> ToolOutcome:
    message = exc.msg if isinstance(exc, TwilioRestException) else str(exc)
    status = exc.status if isinstance(exc, TwilioRestException) else None
    return failed(f"Twilio refused the request: {message}", http_status=status,
                  detail=f"{type(exc).__name__}: {message}")


def _refuse_foreign_number(number: str) -> ToolOutcome:
    return failed(foreign_number_message(number), status=ExecutionStatus.REJECTED, attempts=0)


def transfer_call(ctx: BuiltinContext, arguments: dict[str, Any]) -> ToolOutcome:
    config = ctx.tool.builtin_config
    destinations: dict[str, str] = config.get("destinations", {})
    name = arguments.get("destination") or config.get("default") or (
        next(iter(destinations)) if len(destinations) == 1 else "")
    if name not in destinations:
        return failed(f"Unknown destination {name!r}. Choose one of: "
                      f"{', '.join(sorted(destinations))}.", status=ExecutionStatus.REJECTED)
    caller_id = config.get("caller_id") or None
    # Checked again at run time: the number may have left the tenant since the tool was saved.
    if caller_id and not tenant_owns_number(ctx.tenant, caller_id):
        return _refuse_foreign_number(caller_id)
    mode = config.get("mode", "cold")
    if ctx.dry_run:
        return succeeded({"dry_run": True, "would_dial": destinations[name], "destination": name,
                          "caller_id": caller_id, "mode": mode})
    if ctx.call is None:
        return failed("Transferring needs a live call.", status=ExecutionStatus.REJECTED,
                      attempts=0)
    client = twilio_client()
    if client is None:
        return not_configured("Call transfer")
    target = destinations[name]
    timeout_s = config.get("timeout_s", DEFAULT_DIAL_TIMEOUT_S)
    if mode == "warm":
        return _warm_transfer(ctx, client, name=name, target=target, caller_id=caller_id,
                              summary=arguments.get("summary", ""), timeout_s=timeout_s,
                              hold_music_url=config.get("hold_music_url", ""))
    try:
        transfer = transfer_cold_start(call=ctx.call, destination=name, target=target,
                                       caller_id=caller_id or "", timeout_s=timeout_s,
                                       client=client)
    except TransferNotStarted as exc:
        return failed(f"Twilio refused the transfer: {exc}", detail=str(exc))
    event_record(call=ctx.call, type="tool.transfer",
                 payload={"destination": name, "mode": mode, "transfer_id": transfer.pk})
    return succeeded({"transferred": True, "destination": name, "mode": mode})


def _warm_transfer(ctx: BuiltinContext, client, *, name: str, target: str,
                   caller_id: str | None, summary: str, timeout_s: int,
                   hold_music_url: str) -> ToolOutcome:
    """The caller waits on hold while the person is called and briefed (calls/transfers.py);
    if nobody answers, the caller comes back to the agent."""
    try:
        transfer = transfer_warm_start(
            call=ctx.call, destination=name, target=target, caller_id=caller_id or "",
            summary=summary, timeout_s=timeout_s, client=client,
            hold_music_url=hold_music_url)
    except TransferNotStarted as exc:
        return failed(f"Twilio refused the transfer: {exc}", detail=str(exc))
    event_record(call=ctx.call, type="tool.transfer",
                 payload={"destination": name, "mode": "warm", "transfer_id": transfer.pk})
    return succeeded({"transferred": True, "destination": name, "mode": "warm",
                      "message": "The caller is on hold while the person is called; if they "
                                 "do not answer, the caller comes back to you."})


def end_call(ctx: BuiltinContext, arguments: dict[str, Any]) -> ToolOutcome:
    if ctx.call is None:
        return failed("Hanging up needs a live call.", status=ExecutionStatus.REJECTED,
                      attempts=0)
    client = twilio_client()
    if client is None:
        return not_configured("Hanging up")
    try:
        client.calls(ctx.call.call_sid).update(status="completed")
    except TwilioException as exc:
        return _twilio_error(exc)
    event_record(call=ctx.call, type="tool.end_call", payload={})
    return succeeded({"ended": True})


def send_sms(ctx: BuiltinContext, arguments: dict[str, Any]) -> ToolOutcome:
    config = ctx.tool.builtin_config
    # The LLM never picks the recipient: the caller, or a number fixed by the tenant.
    to = config.get("to") or (remote_number(ctx.call) if ctx.call else "")
    sender = config.get("from") or (our_number(ctx.call) if ctx.call else "")
    if not to or not sender:
        return failed("No recipient or sender: this tool texts the caller of a live call unless "
                      "its configuration names `to` and `from`.",
                      status=ExecutionStatus.REJECTED, attempts=0)
    if not tenant_owns_number(ctx.tenant, sender):
        return _refuse_foreign_number(sender)
    if ctx.dry_run:
        return succeeded({"dry_run": True,
                          "would_send": {"to": to, "from": sender, "body": arguments["body"]}})
    client = twilio_client()
    if client is None:
        return not_configured("Text messages")
    try:
        message = client.messages.create(to=to, from_=sender, body=arguments["body"])
    except TwilioException as exc:
        return _twilio_error(exc)
    return succeeded({"sent": True, "message_sid": message.sid})


def _check_transfer(tenant, config: dict[str, Any]) -> dict[str, str]:
    """Each destination is a phone number or a SIP address; the caller id is the tenant's."""
    problems = {
        f"destinations/{name}": (f"{str(target)[:60]!r} is neither a phone number in E.164 form "
                                 "(+14155550123) nor a SIP address (sip:desk@pbx.example.com).")
        for name, target in config.get("destinations", {}).items()
        if not (_matches(E164_SCHEMA, target) or _matches(SIP_URI_SCHEMA, target))}
    return {**problems, **_owned_numbers_only(tenant, config, "caller_id")}


def _matches(schema: dict[str, Any], value: str) -> bool:
    return re.fullmatch(schema["pattern"], value) is not None and len(value) <= schema.get(
        "maxLength", len(value))


def _owned_numbers_only(tenant, config: dict[str, Any], key: str) -> dict[str, str]:
    """On save: the number we would send from / show as caller id must be the tenant's."""
    number = config.get(key)
    if number and not tenant_owns_number(tenant, number):
        return {key: foreign_number_message(number)}
    return {}


TRANSFER_CALL = Builtin(
    name=TRANSFER_CALL,
    description="Transfer the caller to a person. Use when the caller asks for a human or the "
                "request is beyond what you can do.",
    parameters={
        "type": "object",
        "properties": {
            "destination": {"type": "string",
                            "description": "Which team or person to transfer to."},
            "summary": {"type": "string", "maxLength": TRANSFER_SUMMARY_MAX_CHARS,
                        "description": "One or two sentences for the person who answers: "
                                       "who is calling and why."},
        },
    },
    config_schema={
        "type": "object",
        "properties": {
            # Numbers or SIP addresses, checked by `_check_transfer` (with a message that says so).
            "destinations": {"type": "object", "minProperties": 1,
                             "additionalProperties": {"type": "string", "maxLength": 255}},
            "default": {"type": "string"},
            "mode": {"enum": ["cold", "warm"]},
            "caller_id": E164_SCHEMA,
            "timeout_s": {"type": "integer", "minimum": 5, "maximum": 120},
            # Warm transfers: what the caller hears on hold (Twilio fetches it; empty = Twilio's
            # own hold music).
            "hold_music_url": {"type": "string", "pattern": "^https://", "maxLength": 500},
        },
        "required": ["destinations"],
    },
    check_config=lambda tenant, config: _check_transfer(tenant, config),
    trigger_phrases=("speak to a human", "talk to a person", "transfer me", "real person",
                     "operator"),
    filler_text="One moment, I'll put you through.",
    run=transfer_call,
)

END_CALL = Builtin(
    name="end_call",
    description="Hang up the call. Use after saying goodbye, when the conversation is over.",
    parameters={"type": "object", "properties": {}},
    trigger_phrases=("that's all", "goodbye", "hang up"),
    idempotent=True,
    run=end_call,
)

SEND_SMS = Builtin(
    name="send_sms",
    description="Send a text message to the caller's phone (for example a link, an address or "
                "a confirmation).",
    parameters={
        "type": "object",
        "properties": {"body": {"type": "string", "minLength": 1, "maxLength": 1600,
                                "description": "The text to send."}},
        "required": ["body"],
    },
    config_schema={"type": "object",
                   "properties": {"to": E164_SCHEMA, "from": E164_SCHEMA}},
    check_config=lambda tenant, config: _owned_numbers_only(tenant, config, "from"),
    trigger_phrases=("text me", "send me a text", "send it by sms"),
    filler_text="Sending you a text now.",
    run=send_sms,
)
