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
