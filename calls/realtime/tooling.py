"""Tool calls leave the call: dispatched to Celery, answered over the channel layer.

The session asks `ToolRunner.run(calls)`; each call becomes a task (queue `tools`) carrying this
consumer's channel name; the worker's `tool.result` message comes back to the consumer, which
hands it to `on_result`. In the embedded default the same path runs in-process.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async

from calls.realtime.providers.llm.base import ToolCall, ToolResult

logger = logging.getLogger(__name__)
DEFAULT_TOOL_TIMEOUT_S = 30.0


class ToolRunner:
    def __init__(self, *, tenant_id: int, call_id: int, agent_id: int, reply_channel: str,
                 timeout_s: float = DEFAULT_TOOL_TIMEOUT_S) -> None:
        self.tenant_id = tenant_id
        self.call_id = call_id
        self.agent_id = agent_id
        self.reply_channel = reply_channel
        self.timeout_s = timeout_s
        self.traceparent = ""  # the call's trace, continued by the tool runs (when tracing)
        self._waiting: dict[str, asyncio.Future[ToolResult]] = {}

    async def run(self, calls: list[ToolCall]) -> list[ToolResult]:
        """Run `calls` in parallel; results in the same order. Failures become error results."""
        loop = asyncio.get_running_loop()
        futures = [self._waiting.setdefault(call.id, loop.create_future()) for call in calls]
        try:
            await self._dispatch(calls)
        except Exception as exc:
            logger.exception("Tool dispatch failed for call %s", self.call_id)
            for call in calls:
                self._resolve(call.id, ToolResult(call.id, call.name,
                                                  f"The tool could not be started: {exc}", True))
        done, _ = await asyncio.wait(futures, timeout=self.timeout_s)
        results = []
        for call, future in zip(calls, futures, strict=True):
            self._waiting.pop(call.id, None)
            if future in done:
                results.append(future.result())
            else:
                future.cancel()
                results.append(ToolResult(call.id, call.name, "The tool did not answer in time.",
                                          is_error=True))
        return results

    def on_result(self, message: dict[str, Any]) -> None:
        """A `tool.result` channel message for this call."""
        call_id = str(message.get("tool_call_id", ""))
        self._resolve(call_id, ToolResult(call_id=call_id, name=str(message.get("name", "")),
                                          content=message.get("content"),
                                          is_error=bool(message.get("is_error"))))

    def _resolve(self, call_id: str, result: ToolResult) -> None:
        future = self._waiting.get(call_id)
        if future is not None and not future.done():
            future.set_result(result)

    async def _dispatch(self, calls: list[ToolCall]) -> None:
        from tools.services import dispatching_loop, tool_calls_dispatch

        # In-process (eager) runs deliver their results through this loop's channel layer. The
        # worker thread's database connection is closed afterwards: a pool thread would keep it
        # open for ever.
        token = dispatching_loop.set(asyncio.get_running_loop())
        try:
            await database_sync_to_async(tool_calls_dispatch, thread_sensitive=False)(
                tenant_id=self.tenant_id, call_id=self.call_id, agent_id=self.agent_id,
                calls=calls, reply_channel=self.reply_channel, traceparent=self.traceparent,
            )
        finally:
            dispatching_loop.reset(token)
