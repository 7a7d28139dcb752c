"""Claude on AWS Bedrock through boto3 `converse_stream` (PROTOCOLS.md §3).

boto3 is synchronous: each round runs `converse_stream` and iterates its event stream in a
worker thread of one bounded pool, handing the events to the loop through an asyncio.Queue
(`call_soon_threadsafe`). The async side turns them into `TextDelta` (as they arrive), one
`ToolCall` per toolUse block (at its contentBlockStop; several per turn when the model calls
tools in parallel) and a final `Done` with the stop reason and usage.

Before anything was yielded, throttling (429 before the stream, or a `throttlingException`
event inside it) is retried with exponential backoff and full jitter; connect errors, 5xx and
exhausted throttling move on to the next region of `regions`. After the first yielded event an
error ends the round with a `ProviderError(failover=False)`: the caller may have heard it.

`compose_system_prompt` and `parse_tool_arguments` are shared with the OpenAI-compatible
provider.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings

from calls.realtime.providers.failover import ProviderError
from calls.realtime.providers.llm.base import (
    BrainEvent,
    Conversation,
    Done,
    LLMProvider,
    Message,
    TextDelta,
    ToolCall,
    ToolResult,
    Usage,
)
from calls.realtime.providers.llm.cache_points import min_cache_tokens, place_cache_points
from calls.realtime.providers.llm.routing import Route, route_turn

# Bedrock needs the conversation to open with a user turn; a call opens with our greeting.
CALL_CONNECTED = "[The call has connected.]"
_END = object()
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
# boto3 clients are thread-safe and slow to build: shared by every call, guarded by one lock.
_clients: dict[tuple, Any] = {}
_sessions: dict[tuple, Any] = {}
_clients_lock = threading.Lock()


def compose_memory(conversation: Conversation) -> str:
    """What the agent remembers about this caller, as text after the cacheable prefix."""
    lines = []
    if conversation.caller_name:
        lines.append(f"The caller's name: {conversation.caller_name}.")
    lines += [f"- {key.replace('_', ' ')}: {value}" for key, value in conversation.memory.items()]
    if not lines:
        return ""
    return ("This caller has called before. What earlier calls taught you (use it naturally, "
            "never read it out as a list):\n" + "\n".join(lines))


def compose_passages(conversation: Conversation) -> str:
    """Passages of the agent's documents found for the caller's last words (calls search them
    per turn), as text to go with those words, after the cached prefix; "" with none."""
    last = next((m for m in reversed(conversation.messages) if m.role == "user"), None)
    if last is None or not last.passages:
        return ""
    return ("Passages from the business's documents about what the caller just said. Answer "
            "from them when they apply, in your own short spoken words; do not mention "
            "passages or documents:\n" + "\n".join(last.passages))


def compose_system_prompt(conversation: Conversation) -> str:
    """The agent's instructions plus its knowledge (stable per call, so it caches well)."""
    parts = [conversation.system_prompt.strip()]
    if conversation.knowledge:
        facts = "\n".join(f"Q: {q}\nA: {a}" for q, a in conversation.knowledge)
        parts.append(f"Answer from this knowledge when it applies:\n{facts}")
    return "\n\n".join(p for p in parts if p)


def parse_tool_arguments(raw: str | dict | None) -> dict[str, Any]:
    """Tool arguments as a dict: "" means {}; invalid or non-object JSON → {"_raw": raw}.

    The session hands `_raw` to the tool's validation, which rejects it with a readable error
    the model sees in the tool result, so a garbled call is answered instead of dropped.
    """
    if isinstance(raw, dict):
        return raw
    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


def _tool_result_content(result: ToolResult) -> list[dict[str, Any]]:
    content = result.content
    if isinstance(content, dict):
        return [{"json": content}]
    if isinstance(content, str):
        return [{"text": content or "(empty)"}]
    return [{"json": {"result": content}}]


def bedrock_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Neutral messages → Bedrock Converse messages (PROTOCOLS §3.3).

    Tool results become a user turn of toolResult blocks; consecutive turns of one role are
    merged (Bedrock requires alternation); the first turn is a user turn.
    """
    converted: list[dict[str, Any]] = []
    for message in messages:
        content: list[dict[str, Any]] = []
        if message.role == "tool":
            role = "user"
            content = [{"toolResult": {"toolUseId": r.call_id, "content": _tool_result_content(r),
                                       "status": "error" if r.is_error else "success"}}
                       for r in message.tool_results]
        else:
            role = message.role
            if message.text.strip():
                content.append({"text": message.text})
            content += [{"toolUse": {"toolUseId": c.id, "name": c.name, "input": c.arguments}}
                        for c in message.tool_calls]
        if not content:
            continue
        if converted and converted[-1]["role"] == role:
            converted[-1]["content"].extend(content)
        else:
            converted.append({"role": role, "content": content})
    if not converted or converted[0]["role"] != "user":
        converted.insert(0, {"role": "user", "content": [{"text": CALL_CONNECTED}]})
    return converted


class BedrockLLM(LLMProvider):
    """Claude (or any Converse model) on Bedrock, with region failover."""

    name = "bedrock"

    def __init__(
        self,
        *,
        model: str | None = None,
        regions: list[str] | None = None,
        endpoint_url: str | None = None,
        aws_access_key_id: str | None = None,
        aws_secret_access_key: str | None = None,
        aws_session_token: str | None = None,
        max_tokens: int = 512,
        temperature: float | None = 0.3,
        top_p: float | None = None,
        prompt_cache: bool = True,
        fast_model: str | None = None,
        max_attempts: int = 3,
        backoff_base_s: float = 0.2,
        backoff_max_s: float = 2.0,
        connect_timeout_s: float = 2.0,
        read_timeout_s: float = 20.0,
    ) -> None:
        self.model = model or settings.BEDROCK_MODEL_ID
        self.regions = list(regions or settings.BEDROCK_REGIONS or [settings.AWS_REGION])
        self.endpoint_url = (endpoint_url if endpoint_url is not None
                             else settings.BEDROCK_ENDPOINT_URL) or None
        self._credentials = (aws_access_key_id, aws_secret_access_key, aws_session_token)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.prompt_cache = prompt_cache
        # Automatic model selection per turn (routing.py); None: always `model`.
        self.fast_model = fast_model or None
        self.max_attempts = max(1, max_attempts)
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.throttle_retries = 0
        self.region_failovers = 0
        self._warm = False

    # -- request -------------------------------------------------------------------------------
    def route(self, conversation: Conversation) -> Route | None:
        """The model for this turn when routing is on (a fast model is configured)."""
        if self.fast_model is None:
            return None
        return route_turn(conversation, fast_model=self.fast_model, strong_model=self.model)

    def build_request(self, conversation: Conversation,
                      route: Route | None = None) -> dict[str, Any]:
        """The `converse_stream` keyword arguments for this conversation."""
        model = route.model if route is not None else self.model
        request: dict[str, Any] = {
            "modelId": model,
            "messages": bedrock_messages(conversation.messages),
            "inferenceConfig": self._inference_config(),
        }
        stable = compose_system_prompt(conversation)
        memory = compose_memory(conversation)  # per caller: after the stable instructions
        system = [{"text": text} for text in (stable, memory) if text]
        if system:
            request["system"] = system
        passages = compose_passages(conversation)
        if passages and request["messages"][-1]["role"] == "user":
            # Per turn, so with the caller's newest words: the prefix before them stays cached.
            request["messages"][-1]["content"].append({"text": passages})
        if conversation.tools:
            request["toolConfig"] = {"tools": [
                {"toolSpec": {"name": t.name, "description": t.description or t.name,
                              "inputSchema": {"json": t.parameters}}}
                for t in conversation.tools], "toolChoice": {"auto": {}}}
        if self.prompt_cache:
            place_cache_points(request, stable_system_blocks=1 if stable else 0,
                               min_tokens=min_cache_tokens(model))
        return request

    def _inference_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"maxTokens": self.max_tokens}
        # Newer Claude models refuse temperature and topP together: send only what is set.
        if self.temperature is not None:
            config["temperature"] = self.temperature
        if self.top_p is not None:
            config["topP"] = self.top_p
        return config

    async def warm_up(self) -> None:
        """Import boto3 and build the regions' clients in a worker thread (~0.5-1 s, once)."""
        if self._warm:
            return
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(executor(), self._client, region)
                               for region in self.regions))
        self._warm = True

    # -- respond -------------------------------------------------------------------------------
    async def respond(self, conversation: Conversation) -> AsyncIterator[BrainEvent]:
        route = self.route(conversation)
        request = self.build_request(conversation, route)
        last_error: BaseException | None = None
        for region_number, region in enumerate(self.regions):
            if region_number:
                self.region_failovers += 1
            for attempt in range(self.max_attempts):
                turn = _Turn()
                try:
                    async for event in self._events(region, request):
                        for output in turn.consume(event):
                            turn.yielded = True
                            yield output
                    if not turn.stopped:
                        # A cut connection ends the iteration like a finished answer does.
                        raise TruncatedStream("the stream ended before messageStop")
                except Exception as exc:
                    kind = classify(exc)
                    if kind == "auth" and not turn.yielded:
                        # Every region shares the credentials: no point trying another one,
                        # but another provider (its own credentials) may answer.
                        raise ProviderError(f"bedrock ({region}): credentials refused: {exc}",
                                            provider=self.name, status=_status_of(exc),
                                            failover=True, auth=True) from exc
                    if turn.yielded or kind in ("fatal", "auth"):
                        raise ProviderError(f"bedrock ({region}): {exc}", provider=self.name,
                                            failover=False) from exc
                    last_error = exc
                    if kind in ("throttle", "retry") and attempt + 1 < self.max_attempts:
                        if kind == "throttle":
                            self.throttle_retries += 1
                        await asyncio.sleep(self._backoff_s(attempt))
                        continue
                    break  # unavailable, or throttled too often: next region
                yield turn.done(route)
                return
        raise ProviderError(f"bedrock unavailable in {self.regions}: {last_error}",
                            provider=self.name, failover=True) from last_error

    def _backoff_s(self, attempt: int) -> float:
        # Full jitter: spreads the retries of many calls throttled at the same moment.
        return random.uniform(0, min(self.backoff_max_s, self.backoff_base_s * 2**attempt))

    # Complexity over the limit on purpose: one branch per ConverseStream event type, as the
    # protocol lists them.
    async def _events(self, region: str, request: dict[str, Any]) -> AsyncIterator[dict]:  # noqa: C901
        """Raw stream events of one `converse_stream` call, iterated in a worker thread."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        cancelled = threading.Event()
        streams: list[Any] = []

        def emit(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: the call ended
                cancelled.set()

        def work() -> None:
            try:
                client = self._client(region)
                if cancelled.is_set():  # abandoned while waiting for a pool thread
                    return
                stream = client.converse_stream(**request)["stream"]
                streams.append(stream)
                for event in stream:
                    if cancelled.is_set():
                        break
                    emit(event)
                emit(_END)
            except BaseException as exc:
                emit(exc)
            finally:
                for stream in streams:
                    stream.close()

        loop.run_in_executor(executor(), work)
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            # Barge-in or an error: stop the worker's blocking read by closing the response.
            cancelled.set()
            for stream in streams:
                stream.close()

    def _client(self, region: str) -> Any:
        """A cached bedrock-runtime client (called in a worker thread: creation blocks)."""
        key = (region, self.endpoint_url, self._credentials, self.connect_timeout_s,
               self.read_timeout_s)
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                from botocore.config import Config

                client = _session(self._credentials).client(
                    "bedrock-runtime", region_name=region, endpoint_url=self.endpoint_url,
                    config=Config(retries={"total_max_attempts": 1},  # we retry, with jitter
                                  connect_timeout=self.connect_timeout_s,
                                  read_timeout=self.read_timeout_s,
                                  max_pool_connections=_max_streams()))
                _clients[key] = client
        return client


def _session(credentials: tuple[str | None, str | None, str | None]) -> Any:
    """One boto3 session per credential set: it caches the service model (80 ms to load)."""
    session = _sessions.get(credentials)
    if session is None:
        import boto3

        access_key, secret_key, token = credentials
        session = boto3.session.Session(aws_access_key_id=access_key,
                                        aws_secret_access_key=secret_key,
                                        aws_session_token=token)
        _sessions[credentials] = session
    return session


class _Turn:
    """Accumulates one round's stream: tool inputs per block, stop reason, usage."""

    def __init__(self) -> None:
        self.tools: dict[int, dict[str, Any]] = {}
        self.stop_reason = "end_turn"
        self.usage = Usage()
        self.yielded = False
        self.stopped = False  # messageStop seen: the answer is complete

    def consume(self, event: dict[str, Any]) -> list[BrainEvent]:
        if "contentBlockDelta" in event:
            body = event["contentBlockDelta"]
            delta = body.get("delta", {})
            if delta.get("text"):
                return [TextDelta(delta["text"])]
            if "toolUse" in delta:
                tool = self.tools.setdefault(body["contentBlockIndex"],
                                             {"id": "", "name": "", "input": []})
                tool["input"].append(delta["toolUse"].get("input", ""))
        elif "contentBlockStart" in event:
            body = event["contentBlockStart"]
            start = body.get("start", {}).get("toolUse")
            if start:
                self.tools[body["contentBlockIndex"]] = {
                    "id": start["toolUseId"], "name": start["name"], "input": []}
        elif "contentBlockStop" in event:
            tool = self.tools.pop(event["contentBlockStop"]["contentBlockIndex"], None)
            if tool is not None:
                return [ToolCall(id=tool["id"], name=tool["name"],
                                 arguments=parse_tool_arguments("".join(tool["input"])))]
        elif "messageStop" in event:
            self.stopped = True
            self.stop_reason = event["messageStop"].get("stopReason", "end_turn")
        elif "metadata" in event:
            usage = event["metadata"].get("usage", {})
            self.usage = Usage(
                input_tokens=usage.get("inputTokens", 0),
                output_tokens=usage.get("outputTokens", 0),
                cache_read_tokens=usage.get("cacheReadInputTokens", 0),
                cache_write_tokens=usage.get("cacheWriteInputTokens", 0),
                latency_ms=event["metadata"].get("metrics", {}).get("latencyMs"),
            )
        return []

    def done(self, route: Route | None = None) -> Done:
        done = Done(stop_reason=self.stop_reason, usage=self.usage)
        if route is not None:  # automatic model selection: which model answered, and why
            done.model, done.tier, done.route_reason = route.model, route.tier, route.reason
        return done


# Bedrock/STS error codes of refused credentials (HTTP 403, sometimes 400 for expired tokens).
AUTH_ERROR_CODES = frozenset({
    "accessdeniedexception", "unrecognizedclientexception", "expiredtokenexception",
    "invalidsignatureexception", "incompletesignatureexception", "missingauthenticationtoken",
    "invalidclienttokenid", "signaturedoesnotmatch",
})


def _status_of(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


class TruncatedStream(Exception):
    """The event stream ended without `messageStop`: a cut connection, not an empty answer."""


def classify(exc: BaseException) -> str:
    """"throttle", "retry" (a cut or corrupted stream: again, then another region),
    "unavailable" (try another region), "auth" (credentials refused: try another provider) or
    "fatal" for a boto3/botocore error."""
    from botocore.eventstream import ParserError
    from botocore.exceptions import ClientError, HTTPClientError
    from botocore.exceptions import ConnectionError as BotoConnectionError

    if isinstance(exc, TruncatedStream | ParserError):
        return "retry"

    if isinstance(exc, ClientError):  # EventStreamError included
        code = str(exc.response.get("Error", {}).get("Code", "")).lower()
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        if code in ("throttlingexception", "toomanyrequestsexception") or status == 429:
            return "throttle"
        if code in AUTH_ERROR_CODES or status in (401, 403):
            return "auth"
        if status >= 500 or code in (
            "internalserverexception", "serviceunavailableexception",
            "modelstreamerrorexception", "modelnotreadyexception", "modeltimeoutexception",
        ):
            return "unavailable"
        return "fatal"
    if isinstance(exc, HTTPClientError | BotoConnectionError | OSError | TimeoutError):
        return "unavailable"
    return "fatal"


def _max_streams() -> int:
    return getattr(settings, "BEDROCK_MAX_CONCURRENT_STREAMS", 64)


def executor() -> ThreadPoolExecutor:
    """The process-wide bounded pool that runs Bedrock streams (one thread per live round)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=_max_streams(),
                                           thread_name_prefix="bedrock")
        return _executor

