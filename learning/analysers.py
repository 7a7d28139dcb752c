"""Which analyser reads a call: the agent's cloud model when it has one, else (or when that
fails) the offline one. Shared by the post-call analysis and the evaluation checks on it."""

from __future__ import annotations

import logging

from calls.realtime.providers.failover import ProviderError
from learning.llm import CLOUD_MODELS, AnalysisFailed, analyse_with_llm
from learning.offline import analyse_offline
from learning.record import Analysis, CallRecord

logger = logging.getLogger(__name__)


def analyse(agent, record: CallRecord) -> tuple[Analysis, str]:
    """The analysis of `record` for `agent`, and why the cloud model's failed ("" if none)."""
    if agent is not None and agent.llm_provider in CLOUD_MODELS:
        from calls.realtime.agent_providers import llm_for_agent

        try:
            return analyse_with_llm(record, llm_for_agent(agent), name=agent.llm_provider), ""
        except Exception as exc:  # noqa: BLE001 - every call gets an analysis; the cause is kept
            level = logging.WARNING if isinstance(exc, AnalysisFailed | ProviderError | OSError) \
                else logging.ERROR
            logger.log(level, "LLM analysis of call %s failed (%r); offline analysis used",
                       record.call_id, exc)
            return analyse_offline(record), f"{agent.llm_provider}: {exc}"
    return analyse_offline(record), ""
