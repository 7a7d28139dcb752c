"""Reading a tool's JSON Schema: which arguments it requires, which are still missing, and each
argument's type. The slots to collect come from here."""

from __future__ import annotations

from typing import Any

from calls.realtime.providers.llm.base import ToolSpec


def json_type(schema: dict[str, Any]) -> str:
    declared = schema.get("type", "string")
    if isinstance(declared, list):
        declared = next((t for t in declared if t != "null"), "string")
    return str(declared)


def required_arguments(tool: ToolSpec) -> list[str]:
    return [str(name) for name in tool.parameters.get("required", [])]


def missing_arguments(tool: ToolSpec, args: dict[str, Any]) -> list[str]:
    return [name for name in required_arguments(tool) if name not in args]


def schema_of(tool: ToolSpec, name: str) -> dict[str, Any]:
    schema = tool.parameters.get("properties", {}).get(name, {})
    return schema if isinstance(schema, dict) else {}
