"""`send_email`: a message to the tenant's own addresses through Django's mail backend."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from tools.builtins.base import Builtin, BuiltinContext, remote_number
from tools.executor.outcome import ToolOutcome, failed, succeeded
from tools.models import ExecutionStatus

# A note to the team, not a mailing list: few recipients, fixed by the tenant.
MAX_RECIPIENTS = 10


def sender_is_verified(tenant, sender: str) -> bool:
    """Whether `sender` is one of the tenant's verified addresses or in a verified domain."""
    from tools.selectors import tool_verified_senders

    address = sender.strip().lower()
    domain = "@" + address.rpartition("@")[2]
    verified = {entry.strip().lower() for entry in tool_verified_senders(tenant=tenant)}
    return address in verified or domain in verified


def _unverified_sender_message(sender: str) -> str:
    return (f"{sender} is not a verified sender of this tenant; leave `from` empty to send from "
            f"the platform's address, or ask support to verify it.")


def _check_config(tenant, config: dict[str, Any]) -> dict[str, str]:
    sender = config.get("from")
    if sender and not sender_is_verified(tenant, sender):
        return {"from": _unverified_sender_message(sender)}
    return {}


def send_email(ctx: BuiltinContext, arguments: dict[str, Any]) -> ToolOutcome:
    config = ctx.tool.builtin_config
    # Recipients come from the configuration: the LLM cannot turn us into a mail relay.
    recipients = config.get("to") or []
    if not recipients:
        return failed("This e-mail tool has no recipients configured.",
                      status=ExecutionStatus.REJECTED, attempts=0)
    if len(recipients) > MAX_RECIPIENTS:  # saved before the cap, or written around the API
        return failed(f"At most {MAX_RECIPIENTS} recipients.", status=ExecutionStatus.REJECTED,
                      attempts=0)
    sender = config.get("from") or ""
    # Checked again at run time: a verification may have been withdrawn since the save.
    if sender and not sender_is_verified(ctx.tenant, sender):
        return failed(_unverified_sender_message(sender), status=ExecutionStatus.REJECTED,
                      attempts=0)
    body = arguments["body"]
    if ctx.call is not None:
        body += f"\n\n--\nCall {ctx.call.call_sid} with {remote_number(ctx.call)}"
    subject = (config.get("subject_prefix", "") + arguments["subject"]).strip()
    sender = sender or settings.DEFAULT_FROM_EMAIL
    if ctx.dry_run:
        return succeeded({"dry_run": True, "would_send": {
            "from": sender, "to": list(recipients), "subject": subject, "body": body}})
    try:
        sent = send_mail(subject, body, sender, recipients, fail_silently=False)
    except OSError as exc:  # SMTP errors are OSErrors (smtplib.SMTPException included)
        return failed("The e-mail could not be sent.", detail=f"{type(exc).__name__}: {exc}")
    return succeeded({"sent": bool(sent), "recipients": len(recipients)})


SEND_EMAIL = Builtin(
    name="send_email",
    description="E-mail the team a note about this call (a message, a request, a follow-up).",
    parameters={
        "type": "object",
        "properties": {
            "subject": {"type": "string", "minLength": 1, "maxLength": 200},
            "body": {"type": "string", "minLength": 1, "maxLength": 5000},
        },
        "required": ["subject", "body"],
    },
    config_schema={
        "type": "object",
        "properties": {
            "to": {"type": "array", "minItems": 1, "maxItems": MAX_RECIPIENTS,
                   "items": {"type": "string", "format": "email"}},
            "from": {"type": "string", "maxLength": 254},
            "subject_prefix": {"type": "string", "maxLength": 50},
        },
        "required": ["to"],
    },
    check_config=_check_config,
    trigger_phrases=("leave a message", "pass a message", "let them know"),
    filler_text="I'm passing that on to the team.",
    run=send_email,
)
