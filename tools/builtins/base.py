"""The shape of a built-in tool: its defaults for the Tool row and the function that runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tools.executor.outcome import ToolOutcome

if TYPE_CHECKING:
    from aybiza.core.models import Tenant
    from calls.models import Call
    from tools.models import Tool


@dataclass(frozen=True)
class BuiltinContext:
    """Where a built-in runs: its tenant, its Tool row (for `builtin_config`) and the live call,
    which is None for test runs from the API or the admin."""

    tenant: Tenant
    tool: Tool
    call: Call | None
    # A test run that was not confirmed: side-effecting built-ins report what they would send.
    dry_run: bool = False


@dataclass(frozen=True)
class Builtin:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[BuiltinContext, dict[str, Any]], ToolOutcome]
    # JSON Schema of the Tool's builtin_config for this built-in (checked on save).
    config_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    # Rules the schema cannot say, which need the tenant (owned numbers, verified senders):
    # field errors by config key, checked on save after the schema.
    check_config: Callable[[Tenant, dict[str, Any]], dict[str, str]] | None = None
    trigger_phrases: tuple[str, ...] = ()
    filler_text: str = ""
    idempotent: bool = False


E164_SCHEMA = {"type": "string", "pattern": r"^\+[1-9][0-9]{6,14}$"}
# A SIP address Twilio can dial (`<Dial><Sip>`): a user at a host, optional port and parameters.
# Twilio dials it from its own network: it reaches nothing of ours.
SIP_URI_SCHEMA = {"type": "string", "maxLength": 255,
                  "pattern": r"^sips?:[A-Za-z0-9._~+!$&'()*,;=%-]+@[A-Za-z0-9.-]+(:[0-9]{1,5})?"
                             r"(;[A-Za-z0-9=._-]+)*$"}


def remote_number(call: Call) -> str:
    """The other party's number: the caller of an inbound call, the callee of an outbound one."""
    from calls.models import Direction

    return call.from_number if call.direction == Direction.INBOUND else call.to_number


def our_number(call: Call) -> str:
    from calls.models import Direction

    if call.phone_number_id:
        return call.phone_number.e164
    return call.to_number if call.direction == Direction.INBOUND else call.from_number


def foreign_number_message(number: str) -> str:
    return (f"{number} is not one of this tenant's phone numbers: we only send from, or show as "
            f"caller id, numbers the tenant has registered.")


def tenant_owns_number(tenant: Tenant, number: str) -> bool:
    """Whether `number` is one of the tenant's registered phone numbers.

    There is no separate model of verified caller ids: a PhoneNumber row is the only proof we
    hold that a number is the tenant's (its registration is unique across the platform).
    """
    from agents.selectors import phone_number_list

    return phone_number_list(tenant=tenant).filter(e164=number).exists()
