"""Reads of call analyses within one tenant; sealed extracted fields come back clear."""

from __future__ import annotations

import json
from typing import Any

from compliance.crypto import decrypt_text_for_tenant
from learning.models import CallAnalysis

EXTRACTED_CONTEXT = "learning.extracted"


def analysis_of(call) -> CallAnalysis | None:
    """The call's analysis (None until the call was analysed), from a select_related copy."""
    return call.analysis_or_none


def analysis_extracted(analysis: CallAnalysis) -> dict[str, Any]:
    if not analysis.extracted_sealed:
        return {}
    return json.loads(decrypt_text_for_tenant(analysis.tenant, analysis.extracted_sealed,
                                              context=EXTRACTED_CONTEXT))


def suggestion_list(*, tenant, agent=None, status: str | None = None):
    from learning.models import Suggestion

    rows = Suggestion.objects.filter(tenant=tenant).select_related("agent")
    if agent is not None:
        rows = rows.filter(agent=agent)
    return rows.filter(status=status) if status else rows


def suggestion_get(*, tenant, pk, agent=None):
    """One suggestion of the tenant (of `agent`, when given); another's is Not Found."""
    from aybiza.core.errors import NotFound
    from aybiza.core.selectors import parse_pk

    pk = parse_pk(pk)
    rows = suggestion_list(tenant=tenant, agent=agent)
    found = rows.filter(pk=pk).first() if pk is not None else None
    if found is None:
        raise NotFound("Suggestion not found.")
    return found
