"""A caller's quotes in learning suggestions' evidence, in data-subject requests: exported, and
removed with their calls when the caller is erased."""

from __future__ import annotations

from typing import Any

from learning.models import Suggestion


def _with_calls(tenant, call_ids: set[int]):
    for suggestion in Suggestion.objects.filter(tenant=tenant):
        if call_ids & set((suggestion.evidence or {}).get("calls", [])):
            yield suggestion


def export(tenant, e164: str, calls) -> list[dict[str, Any]] | None:
    ids = set(calls.values_list("id", flat=True))
    quotes = [{"suggestion": suggestion.pk, "call": example["call"], "quote": example["quote"]}
              for suggestion in _with_calls(tenant, ids)
              for example in suggestion.evidence.get("examples", [])
              if example.get("call") in ids]
    return quotes or None


def erase(tenant, e164: str, calls) -> int:
    ids = set(calls.values_list("id", flat=True))
    changed = 0
    for suggestion in _with_calls(tenant, ids):
        evidence = suggestion.evidence
        kept = [e for e in evidence.get("examples", []) if e.get("call") not in ids]
        suggestion.evidence = {**evidence, "examples": kept,
                               "calls": [c for c in evidence.get("calls", []) if c not in ids]}
        suggestion.save(update_fields=["evidence", "updated_at"])
        changed += 1
    return changed
