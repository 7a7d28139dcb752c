"""`send_email`: a message to the tenant's own addresses through Django's mail backend."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.mail import send_mail

from tools.builtins.base import Builtin, BuiltinContext, remote_number
from tools.executor.outcome import ToolOutcome, failed, succeeded
from tools.models import ExecutionStatus


def send_email(ctx: BuiltinContext, arguments: dict[str, Any]) -> ToolOutcome:
    config = ctx.tool.builtin_config
    # Recipients come from the configuration: the LLM cannot turn us into a mail relay.
    recipients = config.get("to") or []
    if not recipients:
        return failed("This e-mail tool has no recipients configured.",
                      status=ExecutionStatus.REJECTED, attempts=0)
    body = arguments["body"]
    if ctx.call is not None:
        body += f"\n\n--\nCall {ctx.call.call_sid} with {remote_number(ctx.call)}"
    subject = (config.get("subject_prefix", "") + arguments["subject"]).strip()
    try:
        sent = send_mail(subject, body, config.get("from") or settings.DEFAULT_FROM_EMAIL,
                         recipients, fail_silently=False)
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
            "to": {"type": "array", "minItems": 1,
                   "items": {"type": "string", "format": "email"}},
            "from": {"type": "string"},
            "subject_prefix": {"type": "string", "maxLength": 50},
        },
        "required": ["to"],
    },
    trigger_phrases=("leave a message", "pass a message", "let them know"),
    filler_text="I'm passing that on to the team.",
    run=send_email,
)
