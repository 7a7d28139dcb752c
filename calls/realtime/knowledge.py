"""The agent's documents searched once per caller turn, off the event loop and within a budget.

The search runs in a thread pool of its own (not the thread the live calls' writer uses, so a
slow search never holds up transcripts) and the turn waits at most
KNOWLEDGE_SEARCH_BUDGET_MS: past it the agent answers without passages rather than late.
"""

from __future__ import annotations

import asyncio
import logging

from channels.db import DatabaseSyncToAsync
from django.conf import settings

from agents.knowledge_search import Passage, knowledge_search

logger = logging.getLogger(__name__)

MAX_PASSAGE_CHARS = 1200


class DocumentSearch:
    """`passages(text)`: what the agent's documents say about the caller's words."""

    def __init__(self, *, tenant_id: int, document_ids: list[int], limit: int = 3,
                 budget_ms: int | None = None) -> None:
        self.tenant_id = tenant_id
        self.document_ids = list(document_ids)
        self.limit = limit
        self.budget_s = (settings.KNOWLEDGE_SEARCH_BUDGET_MS if budget_ms is None
                         else budget_ms) / 1000
        self._search = DatabaseSyncToAsync(knowledge_search, thread_sensitive=False)

    async def passages(self, text: str) -> list[str]:
        try:
            found = await asyncio.wait_for(self._search(
                tenant_id=self.tenant_id, document_ids=self.document_ids, query=text,
                limit=self.limit), self.budget_s)
        except TimeoutError:  # late passages are worth less than an answer on time
            return []
        except Exception:  # the answer goes on without passages
            logger.exception("Knowledge search failed")
            return []
        return [passage_text(p) for p in found]


def passage_text(passage: Passage) -> str:
    """One passage as the brain is given it: where it comes from, then its words."""
    source = f"{passage.document} — {passage.heading}" if passage.heading else passage.document
    return f"[{source}] {passage.text[:MAX_PASSAGE_CHARS]}"
