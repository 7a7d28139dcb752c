"""The API's JSON parser: bounded nesting, no NaN/Infinity, text that can be stored and read.

DRF's default parser hands any body to `json.loads`: 50,000 nested brackets exhaust the
recursion limit (a 500), `NaN` is accepted, and a lone surrogate ("\\ud800") or a NUL character
reaches the database, where PostgreSQL refuses it or every later read of the row fails. Each of
these is a client error here, with a message that says which.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from aybiza.core.text import LONE_SURROGATE

MAX_DEPTH = 32
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON `text` (brackets in strings ignored)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub('""', text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _refuse_constant(name: str) -> Any:
    raise ParseError(f"JSON parse error - {name} is not a number JSON allows.")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ParseError(f"JSON parse error - {text[:40]} is too large a number.")
    return value


def check_text(value: Any, path: str = "") -> None:
    """Refuse strings that cannot be stored and read back: lone surrogates, NUL characters."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ParseError(f"Text {path or 'value'} contains a NUL character.")
        if LONE_SURROGATE.search(value):
            raise ParseError(f"Text {path or 'value'} contains an unpaired surrogate "
                             "(invalid Unicode).")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, path)
            check_text(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_text(item, f"{path}[{index}]")


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}.") from exc
        if nesting_depth(text) > MAX_DEPTH:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
        try:
            data = json.loads(text, parse_constant=_refuse_constant,
                              parse_float=_finite_float)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        check_text(data)
        return data
