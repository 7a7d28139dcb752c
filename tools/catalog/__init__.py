"""Ready-made tool templates, kept as data (templates/<vendor>.json), installed per tenant.

A vendor file has `defaults` (Tool fields shared by its templates), `credentials` (what the tenant
supplies; `secret: true` ones are sealed into the tool's secrets, the others are settings written
into the templates wherever `${name}` appears) and `templates`, each adding its own fields and
credentials. `{arg}` placeholders are left for the brain's arguments at run time.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from aybiza.core.errors import ApplicationError, NotFound
from tools.models import TOOL_FIELDS

TEMPLATES_DIR = Path(__file__).parent / "templates"
SETTING = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@cache
def _catalog() -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for path in sorted(TEMPLATES_DIR.glob("*.json")):
        vendor = json.loads(path.read_text())
        for template in vendor["templates"]:
            key = f"{vendor['vendor']}.{template['key']}"
            fields = {**vendor.get("defaults", {}),
                      **{k: v for k, v in template.items() if k in TOOL_FIELDS}}
            fields.setdefault("kind", "http")
            entries[key] = {
                "key": key,
                "vendor": vendor["vendor"],
                "vendor_name": vendor["name"],
                "docs": vendor.get("docs", ""),
                "title": template["title"],
                "description": template.get("description", ""),
                "credentials": [*vendor.get("credentials", []),
                                *template.get("credentials", [])],
                "fields": fields,
            }
    return entries


def catalog_list() -> list[dict[str, Any]]:
    return list(_catalog().values())


def catalog_get(key: str) -> dict[str, Any]:
    template = _catalog().get(key)
    if template is None:
        raise NotFound("No such catalog template.")
    return template


def catalog_tool_fields(
    template: dict[str, Any], credentials: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """(Tool fields with the settings filled in, secrets to seal) for `credentials`."""
    settings: dict[str, Any] = {}
    secrets: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for spec in template["credentials"]:
        name = spec["name"]
        value = credentials.get(name, spec.get("default"))
        if value in (None, "", []):
            errors[name] = ["Required."]
            continue
        value, problem = _checked(spec, value)
        if problem:
            errors[name] = [problem]
        elif spec.get("secret"):
            secrets[name] = value
        else:
            settings[name] = value
    unknown = set(credentials) - {spec["name"] for spec in template["credentials"]}
    for name in unknown:
        errors[name] = ["Not used by this template."]
    if errors:
        raise ApplicationError("Invalid credentials for this template.",
                               extra={"fields": {"credentials": errors}})
    fields = _fill(template["fields"], settings)
    fields["catalog_key"] = template["key"]
    return fields, secrets


def _checked(spec: dict[str, Any], value: Any) -> tuple[Any, str | None]:
    if spec.get("type") == "string_list":
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            return value, "A list of strings (or one comma-separated string)."
        return [i.strip() for i in items if i.strip()], None
    if not isinstance(value, str):
        return value, "A string."
    pattern = spec.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        return value, f"Does not match {pattern}."
    return value, None


def _fill(node: Any, settings: dict[str, Any]) -> Any:
    if isinstance(node, str):
        whole = SETTING.fullmatch(node)
        if whole:
            return settings[whole.group(1)]
        return SETTING.sub(lambda m: str(settings[m.group(1)]), node)
    if isinstance(node, dict):
        return {_fill(key, settings): _fill(value, settings) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(item, settings) for item in node]
    return node
