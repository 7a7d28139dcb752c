"""Built-in tools, by name. A Tool row with kind=builtin names one of these."""

from __future__ import annotations

from tools.builtin_registry import BUILTINS, register
from tools.builtins.base import Builtin, BuiltinContext
from tools.builtins.caller import LOOKUP_CALLER
from tools.builtins.email import SEND_EMAIL
from tools.builtins.telephony import END_CALL, SEND_SMS, TRANSFER_CALL

register(TRANSFER_CALL, END_CALL, SEND_SMS, LOOKUP_CALLER, SEND_EMAIL)

__all__ = ["BUILTINS", "Builtin", "BuiltinContext"]
