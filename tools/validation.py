"""JSON Schema checks: a tool's `parameters` is a schema; the brain's arguments match it.

Tenants write the schemas and callers steer the arguments, so a check must be cheap and local on
any input:

- Regular expressions (`pattern`, `patternProperties`, the "regex" format) run on RE2, which
  matches in time linear in the text: no pattern can stall a process (ReDoS). A pattern RE2
  cannot run (backreferences, lookaround) is refused when the tool is saved.
- `$ref` resolves inside the schema only ("#/$defs/..."): nothing is fetched, no file is read.
- Schemas and arguments are bounded in nesting depth and size (see `arguments_problem`).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

import re2
from django.core.exceptions import ValidationError
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, best_match
from jsonschema.exceptions import ValidationError as SchemaMismatch
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable

MAX_TRIGGER_PHRASES = 50
# A tool schema is read by the LLM on every turn: a few levels and a few KB are plenty.
MAX_SCHEMA_DEPTH = 32  # JSON nesting levels (objects and arrays)
MAX_SCHEMA_CHARS = 20_000
MAX_PATTERN_CHARS = 1000
# Arguments (defaults; settings TOOLS_MAX_ARGUMENTS_CHARS / TOOLS_MAX_ARGUMENT_STRING_CHARS).
DEFAULT_MAX_ARGUMENTS_CHARS = 16_000
DEFAULT_MAX_ARGUMENT_STRING_CHARS = 4000
MAX_ARGUMENTS_DEPTH = 16
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# Keys whose string value is a reference to resolve, and what a tool schema may do with them.
_REFERENCE_KEYS = ("$ref", "$dynamicRef")


class UnsafeSchema(ValueError):
    """A stored schema that cannot be checked safely (saved before these rules existed)."""


# --- RE2 ---------------------------------------------------------------------------------------


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a tenant's bad pattern is a 400, not a line on stderr
    options.max_mem = 8 << 20  # bytes of compiled program per pattern
    return options


_OPTIONS = _re2_options()


@lru_cache(maxsize=512)
def _regex(pattern: str):
    """The compiled RE2 program of `pattern`; UnsafeSchema when RE2 cannot run it."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise UnsafeSchema(f"The pattern {pattern[:40]!r}… is longer than {MAX_PATTERN_CHARS} "
                           "characters.")
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(
            exc.args[0], bytes) else str(exc)
        raise UnsafeSchema(f"The pattern {pattern!r} is not supported ({reason}); patterns run "
                           "on RE2: no backreferences or lookaround, repetition counts up to "
                           "1000 (use minLength/maxLength for longer).") from exc


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _regex(pattern).search(instance):
        yield SchemaMismatch(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(validator, patterns, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        regex = _regex(pattern)
        for key, value in instance.items():
            if regex.search(key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _additional_properties(validator, additional, instance, schema):
    # jsonschema's own, with the patternProperties lookup on RE2.
    if not validator.is_type(instance, "object"):
        return
    properties = schema.get("properties", {})
    regexes = [_regex(pattern) for pattern in schema.get("patternProperties", {})]
    extras = [key for key in instance if key not in properties
              and not any(regex.search(key) for regex in regexes)]
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        names = ", ".join(repr(extra) for extra in sorted(extras, key=str))
        yield SchemaMismatch(f"Additional properties are not allowed ({names} unexpected)")


def _is_re2_regex(instance: object) -> bool:
    if isinstance(instance, str):
        _regex(instance)
    return True


# The formats checked: those jsonschema checks with the standard library alone. Others (date-time,
# uri, hostname...) are annotations, as the 2020-12 spec allows: jsonschema would check them only
# where an optional package happens to be installed, and a tool's behaviour must not depend on
# that. A spoken "Tuesday at ten" is a valid `date-time` argument; the tool reads it.
CHECKED_FORMATS = ("email", "idn-email", "ipv4", "ipv6", "date", "uuid")
FORMAT_CHECKER = FormatChecker(())
FORMAT_CHECKER.checkers = {name: checker for name, checker
                           in Draft202012Validator.FORMAT_CHECKER.checkers.items()
                           if name in CHECKED_FORMATS}
FORMAT_CHECKER.checks("regex", raises=UnsafeSchema)(_is_re2_regex)


def _refuse_to_retrieve(uri: str):
    raise NoSuchResource(ref=uri)


# Resolves nothing but the schema itself (and the bundled meta-schemas): no URL, no file.
LOCAL_REGISTRY: Registry = Registry(retrieve=_refuse_to_retrieve)  # type: ignore[call-arg]

ToolSchemaValidator = validators.extend(
    Draft202012Validator,
    validators={"pattern": _pattern, "patternProperties": _pattern_properties,
                "additionalProperties": _additional_properties},
    format_checker=FORMAT_CHECKER,
)


def schema_validator(schema: dict[str, Any]):
    """A Draft 2020-12 validator for `schema` that is safe on any tenant input: RE2 patterns,
    local references only, the RE2 "regex" format."""
    return ToolSchemaValidator(schema, format_checker=FORMAT_CHECKER, registry=LOCAL_REGISTRY)


# --- schemas -----------------------------------------------------------------------------------


def validate_parameters_schema(schema: Any) -> None:
    """Raise ValidationError unless `schema` is a Draft 2020-12 schema of an arguments object
    that can be checked safely (see the module docstring)."""
    if not isinstance(schema, dict):
        raise ValidationError("The parameters must be a JSON Schema object.")
    problem = schema_problem(schema)
    if problem:
        raise ValidationError(problem)
    try:
        ToolSchemaValidator.check_schema(schema, format_checker=FORMAT_CHECKER)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path) or "(root)"
        raise ValidationError(f"Not a valid JSON Schema at {where}: {exc.message}") from exc
    # Every LLM vendor takes an object of named arguments; an empty schema means "no arguments".
    if schema and schema.get("type", "object") != "object":
        raise ValidationError('The parameters schema must describe an object ("type": "object").')


# Complexity over the limit on purpose: one branch per JSON Schema keyword we refuse or bound.
def schema_problem(schema: dict[str, Any]) -> str | None:  # noqa: C901
    """Why `schema` cannot be checked safely, or None. Iterative: any depth is answered."""
    if _deeper_than(schema, MAX_SCHEMA_DEPTH):
        return f"The schema is nested deeper than {MAX_SCHEMA_DEPTH} levels."
    if len(json.dumps(schema)) > MAX_SCHEMA_CHARS:
        return f"The schema is larger than {MAX_SCHEMA_CHARS} characters of JSON."
    # Every object is looked at, not only where keywords are expected: a `$ref` can point
    # anywhere in the document (even into an `enum`), so anything could be read as a schema.
    stack: list[Any] = [schema]
    has_pattern_properties = has_unevaluated_properties = False
    references: list[str] = []
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        for key in _REFERENCE_KEYS:
            ref = node.get(key)
            if isinstance(ref, str):
                if not ref.startswith("#"):
                    return (f"{key} {ref!r} points outside the schema; only local references "
                            'such as "#/$defs/name" are allowed.')
                references.append(ref)
        if isinstance(node.get("$id"), str):
            return ('"$id" is not allowed: a tool schema is one document (use "$defs" and '
                    '"#/$defs/name" references).')
        if isinstance(node.get("$schema"), str) and node["$schema"].rstrip("#") != DRAFT_2020_12:
            return f'"$schema" must be {DRAFT_2020_12!r} (or left out).'
        try:
            if isinstance(node.get("pattern"), str):
                _regex(node["pattern"])
            if isinstance(node.get("patternProperties"), dict):
                has_pattern_properties = True
                for pattern in node["patternProperties"]:
                    _regex(pattern)
        except UnsafeSchema as exc:
            return str(exc)
        has_unevaluated_properties |= "unevaluatedProperties" in node
    if has_pattern_properties and has_unevaluated_properties:
        # jsonschema matches patternProperties with Python's `re` while it evaluates
        # unevaluatedProperties: not safe with a tenant's pattern.
        return ('"unevaluatedProperties" cannot be combined with "patternProperties"; use '
                '"additionalProperties".')
    return _unresolved_reference(schema, references)


def _unresolved_reference(schema: dict[str, Any], references: list[str]) -> str | None:
    if not references:
        return None
    resolver = schema_validator(schema)._resolver  # the resolver the validator will use
    for ref in references:
        if ref.startswith("#") and ref[1:2] not in ("", "/"):
            continue  # an anchor ("#name"): looked up by name, in this document only
        try:
            resolver.lookup(ref)
        except Unresolvable:
            return f"$ref {ref!r} does not point at anything in the schema."
    return None


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def validate_trigger_phrases(phrases: Any) -> None:
    if not isinstance(phrases, list) or not all(
        isinstance(p, str) and p.strip() for p in phrases
    ):
        raise ValidationError("Trigger phrases must be a list of non-empty strings.")
    if len(phrases) > MAX_TRIGGER_PHRASES:
        raise ValidationError(f"At most {MAX_TRIGGER_PHRASES} trigger phrases.")


# --- arguments ---------------------------------------------------------------------------------


def arguments_problem(arguments: Any) -> str | None:
    """Why `arguments` are too large to take (depth, JSON size, one string's length), or None.
    Limits: settings TOOLS_MAX_ARGUMENTS_CHARS and TOOLS_MAX_ARGUMENT_STRING_CHARS."""
    from django.conf import settings

    if _deeper_than(arguments, MAX_ARGUMENTS_DEPTH):
        return f"The arguments are nested deeper than {MAX_ARGUMENTS_DEPTH} levels."
    max_chars = getattr(settings, "TOOLS_MAX_ARGUMENTS_CHARS", DEFAULT_MAX_ARGUMENTS_CHARS)
    if len(json.dumps(arguments, ensure_ascii=False, default=str)) > max_chars:
        return f"The arguments are larger than {max_chars} characters of JSON."
    max_string = getattr(settings, "TOOLS_MAX_ARGUMENT_STRING_CHARS",
                         DEFAULT_MAX_ARGUMENT_STRING_CHARS)
    stack = [arguments]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, str) and len(node) > max_string:
            return f"A value of the arguments is longer than {max_string} characters."
    return None


def json_mismatch(schema: dict[str, Any], arguments: Any) -> str | None:
    """A one-line explanation of why `arguments` (an object) does not match `schema`, or None.
    Linear in the arguments whatever the schema (RE2, no remote references)."""
    if not isinstance(arguments, dict):
        return "A JSON object is expected."
    schema = schema or {"type": "object"}
    problem = _stored_schema_problem(json.dumps(schema, sort_keys=True))
    if problem:  # a schema saved before these rules: refuse rather than run it unsafely
        return f"The tool's schema cannot be used: {problem}"
    try:
        error = best_match(schema_validator(schema).iter_errors(arguments))
    except (UnsafeSchema, Unresolvable) as exc:
        return f"The tool's schema cannot be used: {exc}"
    if error is None:
        return None
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{where}: {error.message}" if where else error.message


@lru_cache(maxsize=256)
def _stored_schema_problem(schema_json: str) -> str | None:
    schema = json.loads(schema_json)
    return schema_problem(schema) if isinstance(schema, dict) else "not a JSON object"
