"""Rendering a tool's request templates with the brain's arguments.

Placeholders are `{name}`. In the URL each value is percent-encoded (no `/`, `?`, `&` sneaks in);
in headers a value with a line break is refused. In a JSON body template a string that is exactly
one placeholder takes the argument's JSON value (number, object...); a missing optional argument
drops its key, and so does an object or list whose placeholders are all missing; placeholders
inside longer strings are replaced by text.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from django.core.exceptions import ValidationError

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MISSING = object()


class RenderError(ValueError):
    """A value cannot be placed in the request (e.g. a header value with a line break)."""


def template_values(arguments: dict[str, Any], *, caller_number: str = "") -> dict[str, Any]:
    """The arguments plus the context values templates may use: `{_now}` and `{_caller}`."""
    return {**arguments, "_now": datetime.now(UTC).isoformat(timespec="seconds"),
            "_caller": caller_number}


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def render_text(template: str, values: dict[str, Any], *, encode=None) -> str:
    def replace(match: re.Match) -> str:
        text = as_text(values.get(match.group(1)))
        return encode(text) if encode else text

    return PLACEHOLDER.sub(replace, template)


def render_url(template: str, values: dict[str, Any]) -> str:
    return render_text(template, values, encode=lambda text: quote(text, safe=""))


def render_headers(template: dict[str, str], values: dict[str, Any]) -> dict[str, str]:
    headers = {}
    for name, value_template in template.items():
        value = render_text(value_template, values)
        if "\r" in value or "\n" in value:
            raise RenderError(f"The value of header {name} may not contain a line break.")
        headers[name] = value
    return headers


def render_body(template: Any, values: dict[str, Any]) -> Any:
    rendered, _present, _missing = _render_json(template, values)
    return None if rendered is _MISSING else rendered


def _render_json(node: Any, values: dict[str, Any]) -> tuple[Any, int, int]:
    """(rendered node, whole-value placeholders filled, whole-value placeholders missing)."""
    if isinstance(node, str):
        whole = PLACEHOLDER.fullmatch(node)
        if whole:
            value = values.get(whole.group(1), _MISSING)
            return value, int(value is not _MISSING), int(value is _MISSING)
        return render_text(node, values), 0, 0
    if isinstance(node, (dict, list)):
        pairs = node.items() if isinstance(node, dict) else enumerate(node)
        kept: list[tuple[Any, Any]] = []
        present = missing = 0
        for key, child in pairs:
            value, child_present, child_missing = _render_json(child, values)
            present += child_present
            missing += child_missing
            if value is not _MISSING:
                kept.append((key, value))
        # A part built only for missing arguments goes (e.g. "start" without its dateTime).
        if missing and not present:
            return _MISSING, present, missing
        out = dict(kept) if isinstance(node, dict) else [value for _, value in kept]
        return out, present, missing
    return node, 0, 0


def validate_url_template(template: str) -> None:
    """The scheme and host are fixed by the tenant; only the path and query take arguments."""
    if not template:
        raise ValidationError("An HTTP tool needs a URL.")
    scheme, sep, rest = template.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise ValidationError("The URL must start with http:// or https://.")
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if not authority:
        raise ValidationError("The URL has no host.")
    if "{" in authority or "}" in authority or "$" in authority:
        raise ValidationError("The host may not contain placeholders (arguments go in the path "
                              "or the query).")
