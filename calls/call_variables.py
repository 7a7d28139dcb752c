"""Per-call variables of outbound calls ("name", "appointment"...): checked, sealed, and filled
into the agent's greeting, prompt and voicemail message where they say `{{name}}`.

Values come from a tenant's CSV or API request, so they are bounded, plain text, and personal
data: sealed with the tenant's data key, opened only when the call starts.
"""

from __future__ import annotations

import json
import re

from aybiza.core.errors import ApplicationError
from aybiza.core.models import Tenant
from compliance.crypto import decrypt_text_for_tenant, encrypt_text_for_tenant

MAX_VARIABLES = 20
MAX_VALUE_CHARS = 200
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,39}")
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]{0,39})\s*\}\}")
_CONTEXT = "call.variables"


def variable_name(raw: str) -> str:
    """A CSV header or API key as a variable name: "First Name" → "first_name"."""
    return re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")


def variables_clean(raw: object, *, field: str = "variables") -> dict[str, str]:
    """`raw` as {name: text}, or an ApplicationError naming what is wrong."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise _error(field, "An object of names to text values.")
    if len(raw) > MAX_VARIABLES:
        raise _error(field, f"At most {MAX_VARIABLES} variables.")
    cleaned: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
            raise _error(field, f"{str(name)[:40]!r}: names are lowercase letters, digits and "
                                "underscores, starting with a letter.")
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _error(field, f"{name}: a text or number value.")
        text = " ".join(str(value).split())
        if len(text) > MAX_VALUE_CHARS:
            raise _error(field, f"{name}: at most {MAX_VALUE_CHARS} characters.")
        cleaned[name] = text
    return cleaned


def variables_seal(tenant: Tenant, variables: dict[str, str]) -> str:
    return encrypt_text_for_tenant(tenant, json.dumps(variables), context=_CONTEXT) \
        if variables else ""


def variables_open(tenant: Tenant, sealed: str) -> dict[str, str]:
    return json.loads(decrypt_text_for_tenant(tenant, sealed, context=_CONTEXT)) if sealed \
        else {}


def fill(template: str, variables: dict[str, str]) -> str:
    """`template` with each `{{name}}` replaced by its value; a name the call lacks is left out
    (the agent says "Hi, this is…" rather than reading braces aloud)."""
    if "{{" not in template:
        return template
    filled = _PLACEHOLDER.sub(lambda match: variables.get(match.group(1), ""), template)
    # What a missing value leaves behind: doubled spaces, a space before punctuation.
    return re.sub(r"\s+([,.!?])", r"\1", re.sub(r"[ \t]{2,}", " ", filled)).strip()


def _error(field: str, message: str) -> ApplicationError:
    return ApplicationError(message, extra={"fields": {field: [message]}})
