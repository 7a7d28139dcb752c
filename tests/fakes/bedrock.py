"""A fake Bedrock Runtime: `POST /model/{modelId}/converse-stream` (the event-stream
framing of botocore's `eventstream.py`, as `calls/realtime/providers/llm/bedrock.py` reads it).

Answers are scripted per region (read from the SigV4 credential scope of the Authorization
header, so one server fakes every region) or for any region (`"*"`). Each scripted answer is a
`BedrockResponse`: an HTTP error (429 ThrottlingException, 5xx) or a 200 whose body is binary
event-stream frames, optionally ending in an exception frame (mid-stream throttling). Builders:
`text_turn`, `tool_turn`, `throttled`, `server_error`, `mid_stream_error`. Unscripted requests
get `text_turn("OK.")`. Every request is recorded (region, model id, JSON body).

Point boto3 at it with `endpoint_url=fake.base_url` and dummy credentials.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import struct
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import FakeServer

_REGION = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/bedrock/")


def _header(name: str, value: str) -> bytes:
    key, val = name.encode(), value.encode()
    return struct.pack(">B", len(key)) + key + b"\x07" + struct.pack(">H", len(val)) + val


def frame(name: str, payload: dict[str, Any], *, exception: bool = False) -> bytes:
    """One event-stream message: an event (`name` = event type) or an exception."""
    kind, key = ("exception", ":exception-type") if exception else ("event", ":event-type")
    headers = (_header(key, name) + _header(":content-type", "application/json")
               + _header(":message-type", kind))
    body = json.dumps(payload).encode()
    prelude = struct.pack(">II", 12 + len(headers) + len(body) + 4, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers + body
    return message + struct.pack(">I", zlib.crc32(message))


@dataclass
class BedrockResponse:
    """One scripted answer."""

    status: int = 200
    error_type: str = ""  # x-amzn-ErrorType of a non-2xx answer
    message: str = ""
    frames: list[bytes] = field(default_factory=list)
    delay_before_s: float = 0.0  # before the status line: a slow region
    frame_delay_s: float = 0.0  # between frames: text arrives over time
    # Billed answers (`billed`): the frames are built when the request arrives, with the usage
    # the fake's prompt cache computes for it, from what the answer says (`output_chars`).
    build: Callable[[dict[str, int]], list[bytes]] | None = None
    output_chars: int = 0


def _usage_frames(stop_reason: str, usage: dict[str, int] | None, latency_ms: int) -> list[bytes]:
    usage = {"inputTokens": 10, "outputTokens": 5, "cacheReadInputTokens": 0,
             "cacheWriteInputTokens": 0, **(usage or {})}
    usage["totalTokens"] = usage["inputTokens"] + usage["outputTokens"]
    return [frame("messageStop", {"stopReason": stop_reason}),
            frame("metadata", {"usage": usage, "metrics": {"latencyMs": latency_ms}})]


def _text_frames(index: int, chunks: tuple[str, ...]) -> list[bytes]:
    out = [frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": c}})
           for c in chunks]
    return out + [frame("contentBlockStop", {"contentBlockIndex": index})] if chunks else out


def text_turn(*chunks: str, stop_reason: str = "end_turn", usage: dict[str, int] | None = None,
              latency_ms: int = 321, frame_delay_s: float = 0.0) -> BedrockResponse:
    """An answer streamed as text deltas `chunks`."""
    frames = [frame("messageStart", {"role": "assistant"}), *_text_frames(0, chunks),
              *_usage_frames(stop_reason, usage, latency_ms)]
    return BedrockResponse(frames=frames, frame_delay_s=frame_delay_s)


def billed(answer: BedrockResponse) -> BedrockResponse:
    """`answer` (a text_turn or tool_turn) with usage as Bedrock would bill this request: tokens
    counted from the request, prompt-cache reads and writes by its cache points."""
    text = b"".join(answer.frames)
    stop = "tool_use" if b'"toolUse"' in text else "end_turn"
    ends = (_header(":event-type", "messageStop"), _header(":event-type", "metadata"))
    content = [f for f in answer.frames if not any(end in f for end in ends)]
    return BedrockResponse(build=lambda usage: [*content, *_usage_frames(stop, usage, 321)],
                           output_chars=_written_chars(content))


def _written_chars(frames: list[bytes]) -> int:
    """What the model wrote in `frames`: its text, and each tool use as a name and JSON input
    (what output tokens are billed on; the stream's framing is not)."""
    written = 0
    for message in frames:
        headers_length = struct.unpack(">I", message[4:8])[0]
        payload = json.loads(message[12 + headers_length:-4])
        delta = payload.get("delta", {})
        start = payload.get("start", {}).get("toolUse")
        written += len(delta.get("text", "")) + len(delta.get("toolUse", {}).get("input", ""))
        written += len(json.dumps(start)) if start else 0
    return written


def tool_turn(text: str, tools: list[tuple[str, str, dict[str, Any]]], *,
              usage: dict[str, int] | None = None, latency_ms: int = 321) -> BedrockResponse:
    """Optional text, then one toolUse block per (toolUseId, name, input); input streamed in
    three fragments per tool, as the model does."""
    frames = [frame("messageStart", {"role": "assistant"})]
    frames += _text_frames(0, (text,) if text else ())
    for index, (tool_id, name, arguments) in enumerate(tools, start=1 if text else 0):
        frames.append(frame("contentBlockStart", {"contentBlockIndex": index, "start": {
            "toolUse": {"toolUseId": tool_id, "name": name}}}))
        raw = json.dumps(arguments)
        cuts = [0, len(raw) // 3, 2 * len(raw) // 3, len(raw)]
        for a, b in zip(cuts, cuts[1:], strict=False):
            frames.append(frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {
                "toolUse": {"input": raw[a:b]}}}))
        frames.append(frame("contentBlockStop", {"contentBlockIndex": index}))
    frames += _usage_frames("tool_use", usage, latency_ms)
    return BedrockResponse(frames=frames)


def throttled(message: str = "Too many requests, please wait.") -> BedrockResponse:
    """A 429 ThrottlingException before the stream starts."""
    return BedrockResponse(status=429, error_type="ThrottlingException", message=message)


def access_denied(message: str = "User: arn:aws:iam::123456789012:user/aybiza is not authorized "
                                  "to perform: bedrock:InvokeModelWithResponseStream"
                  ) -> BedrockResponse:
    """A 403 AccessDeniedException before the stream starts: revoked or missing permission
    (an expired session token answers the same way with ExpiredTokenException)."""
    return BedrockResponse(status=403, error_type="AccessDeniedException", message=message)


def server_error(status: int = 503, error_type: str = "ServiceUnavailableException",
                 *, delay_before_s: float = 0.0) -> BedrockResponse:
    """A 5xx before the stream starts."""
    return BedrockResponse(status=status, error_type=error_type, message="unavailable",
                           delay_before_s=delay_before_s)


def mid_stream_error(*chunks_before: str, exception: str = "throttlingException",
                     message: str = "Rate exceeded") -> BedrockResponse:
    """A 200 stream that emits `chunks_before` as text and then an exception frame."""
    frames = [frame("messageStart", {"role": "assistant"})]
    frames += [frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": c}})
               for c in chunks_before]
    frames.append(frame(exception, {"message": message}, exception=True))
    return BedrockResponse(frames=frames)


def cut_stream(*chunks_before: str) -> BedrockResponse:
    """A 200 stream that sends `chunks_before` as text and then ends without `messageStop` or
    its metadata: the connection was cut (HTTP/2 reset, a proxy timeout)."""
    frames = [frame("messageStart", {"role": "assistant"})]
    frames += [frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": c}})
               for c in chunks_before]
    return BedrockResponse(frames=frames)


def corrupted_stream() -> BedrockResponse:
    """A 200 stream whose first message fails its CRC (a corrupted frame)."""
    good = frame("messageStart", {"role": "assistant"})
    return BedrockResponse(frames=[good[:-4] + bytes(4)])


@dataclass
class BedrockRequest:
    region: str
    model_id: str
    body: dict[str, Any]
    headers: dict[str, str]


# Prompt caching as Bedrock documents it: at most four cache points per request (more is a
# ValidationException); a point caches the prefix before it for five minutes (refreshed on each
# hit) once that prefix reaches the model's minimum — below it, nothing is cached. Tokens are
# counted at four characters of the request's JSON each.
MAX_CACHE_POINTS = 4
CACHE_TTL_S = 300.0
LOOKBACK_BLOCKS = 20
CACHE_MINIMUMS = (("claude-haiku-4", 4096), ("claude-3-5-haiku", 2048), ("nova", 1000))


def _cache_minimum(model_id: str) -> int:
    return next((tokens for family, tokens in CACHE_MINIMUMS if family in model_id), 1024)


class FakeBedrock(FakeServer):
    """Scriptable `converse-stream` endpoint for every region."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: dict[str, deque[BedrockResponse]] = {}
        self.requests: list[BedrockRequest] = []
        self.cache: dict[str, float] = {}  # prefix digest -> expiry (monotonic)
        self.billed: list[dict[str, int]] = []  # the usage of each billed answer

    def queue(self, *responses: BedrockResponse, region: str = "*") -> None:
        """Answer the next requests (to `region`, or to any) with `responses`, in order."""
        self.scripts.setdefault(region, deque()).extend(responses)

    def provider_options(self, regions: list[str] | None = None) -> dict[str, Any]:
        """Keyword arguments pointing BedrockLLM at this fake."""
        return {"endpoint_url": self.base_url, "regions": regions or ["us-east-1"],
                "aws_access_key_id": "test", "aws_secret_access_key": "test",
                "backoff_base_s": 0.01, "backoff_max_s": 0.02}

    def build_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/model/{model_id}/converse-stream", self._converse_stream)
        return app

    def _next(self, region: str) -> BedrockResponse:
        for key in (region, "*"):
            script = self.scripts.get(key)
            if script:
                return script.popleft()
        return text_turn("OK.")

    def _bill(self, model_id: str, body: dict[str, Any], output_chars: int) -> dict[str, int]:
        """The request's usage: its prefix read from the cache up to the longest live point,
        written up to the last point past the minimum, the rest plain input."""
        blocks = [*((body.get("toolConfig") or {}).get("tools") or []),
                  *(body.get("system") or []),
                  *({"role": m["role"], **c} for m in body.get("messages", [])
                    for c in m.get("content", []))]
        digest = hashlib.sha256(model_id.encode())
        total, points, boundaries = 0, [], []
        for block in blocks:
            if "cachePoint" in block:
                points.append((total, digest.copy().hexdigest(), len(boundaries)))
                continue
            raw = json.dumps(block, sort_keys=True)
            digest.update(raw.encode())
            total += len(raw) // 4
            boundaries.append((total, digest.copy().hexdigest()))
        minimum, now = _cache_minimum(model_id), time.monotonic()
        # A hit is looked for at each point and at the block boundaries up to 20 blocks before
        # it (Anthropic's lookback): last turn's point is found from this turn's later one.
        read = 0
        for _tokens, _key, at in points:
            for tokens, key in reversed(boundaries[max(0, at - LOOKBACK_BLOCKS):at]):
                if tokens > read and tokens >= minimum and self.cache.get(key, 0.0) > now:
                    read = tokens
                    self.cache[key] = now + CACHE_TTL_S
                    break
        written = 0
        for tokens, key, _at in points:
            if tokens >= minimum and tokens > read:
                self.cache[key] = now + CACHE_TTL_S
                written = tokens - read
        return {"inputTokens": total - read - written, "outputTokens": max(1, output_chars // 4),
                "cacheReadInputTokens": read, "cacheWriteInputTokens": written}

    async def _converse_stream(self, request: web.Request) -> web.StreamResponse:
        match = _REGION.search(request.headers.get("Authorization", ""))
        region = match.group(1) if match else ""
        self.requests.append(BedrockRequest(region=region, model_id=request.match_info["model_id"],
                                            body=await request.json(),
                                            headers=dict(request.headers)))
        body = self.requests[-1].body
        points = json.dumps(body).count('"cachePoint"')
        if points > MAX_CACHE_POINTS:
            return web.json_response(
                {"message": f"A maximum of {MAX_CACHE_POINTS} cache points may be provided; "
                            f"got {points}."}, status=400,
                headers={"x-amzn-ErrorType": "ValidationException"})
        answer = self._next(region)
        if answer.build is not None:
            usage = self._bill(request.match_info["model_id"], body, answer.output_chars)
            self.billed.append(usage)
            answer = BedrockResponse(frames=answer.build(usage))
        if answer.delay_before_s:
            await asyncio.sleep(answer.delay_before_s)
        if answer.status != 200:
            return web.json_response({"message": answer.message}, status=answer.status,
                                     headers={"x-amzn-ErrorType": answer.error_type})
        response = web.StreamResponse(
            headers={"Content-Type": "application/vnd.amazon.eventstream"})
        await response.prepare(request)
        for data in answer.frames:
            await response.write(data)
            if answer.frame_delay_s:
                await asyncio.sleep(answer.frame_delay_s)
        await response.write_eof()
        return response
