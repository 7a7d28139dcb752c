"""JSON Schema checks: a tool's `parameters` is a schema; the brain's arguments match it."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, best_match

MAX_TRIGGER_PHRASES = 50


def validate_parameters_schema(schema: Any) -> None:
    """Raise ValidationError unless `schema` is a Draft 2020-12 schema of an arguments object."""
    if not isinstance(schema, dict):
        raise ValidationError("The parameters must be a JSON Schema object.")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path) or "(root)"
        raise ValidationError(f"Not a valid JSON Schema at {where}: {exc.message}") from exc
    # Every LLM vendor takes an object of named arguments; an empty schema means "no arguments".
    if schema and schema.get("type", "object") != "object":
        raise ValidationError('The parameters schema must describe an object ("type": "object").')


def validate_trigger_phrases(phrases: Any) -> None:
    if not isinstance(phrases, list) or not all(
        isinstance(p, str) and p.strip() for p in phrases
    ):
        raise ValidationError("Trigger phrases must be a list of non-empty strings.")
    if len(phrases) > MAX_TRIGGER_PHRASES:
        raise ValidationError(f"At most {MAX_TRIGGER_PHRASES} trigger phrases.")


def json_mismatch(schema: dict[str, Any], arguments: Any) -> str | None:
    """A one-line explanation of why `arguments` (an object) does not match `schema`, or None."""
    if not isinstance(arguments, dict):
        return "A JSON object is expected."
    validator = Draft202012Validator(schema or {"type": "object"},
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    error = best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message
