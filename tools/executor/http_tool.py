"""Running an HTTP tool: render the request, authenticate, send with retries, shape the reply.

Retries (up to `max_retries`, exponential backoff): a connection that never opened is retried for
every tool (nothing was sent); timeouts, dropped connections, 429 and 5xx replies only for tools
marked idempotent, since the service may already have acted. `timeout_ms` bounds each attempt.
"""

from __future__ import annotations

import json
import logging
import random
import time
from typing import Any

import httpx
from django.conf import settings

from aybiza.core import tracing
from tools.executor.auth import MissingSecret, auth_headers
from tools.executor.outcome import ToolOutcome, failed, succeeded
from tools.executor.render import (
    RenderError,
    as_text,
    render_body,
    render_headers,
    render_url,
    template_values,
)
from tools.executor.transport import HttpReply, ResponseTooLarge, TooManyRedirects, fetch
from tools.models import BodyMode, ExecutionStatus, Tool
from tools.secrets import unseal_secrets
from tools.ssrf import Allowlist, RequestRefused

logger = logging.getLogger(__name__)

DEFAULT_MAX_RESPONSE_BYTES = 1_000_000
RETRY_BACKOFF_S = 0.2
RETRY_BACKOFF_MAX_S = 2.0
ERROR_EXCERPT_CHARS = 300
USER_AGENT = "AYBIZA-Tools/1.0"
_BODYLESS_METHODS = ("GET", "DELETE")


def run_http_tool(
    *, tool: Tool, arguments: dict[str, Any], allowlist: Allowlist, caller_number: str = ""
) -> ToolOutcome:
    values = template_values(arguments, caller_number=caller_number)
    try:
        url, headers, body = build_request(tool, arguments, values)
        secrets = unseal_secrets(tool.tenant, tool.secrets_sealed)
        auth = auth_headers(auth_type=tool.auth_type, header_name=tool.auth_header_name,
                            secrets=secrets, body=body or b"")
    except (RenderError, MissingSecret) as exc:
        return failed(f"The tool {tool.name} cannot be used: {exc}",
                      status=ExecutionStatus.REJECTED, attempts=0)
    max_bytes = getattr(settings, "TOOLS_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES)
    attempt = 0
    while True:
        attempt += 1
        outcome, retryable = _attempt(
            tool, url=url, headers=headers, auth=auth, body=body, allowlist=allowlist,
            max_bytes=max_bytes, attempt=attempt,
        )
        if not retryable or attempt > tool.max_retries:
            return outcome
        logger.info("Tool %s attempt %d: %s; retrying", tool.name, attempt, outcome.status)
        time.sleep(min(RETRY_BACKOFF_S * 2 ** (attempt - 1), RETRY_BACKOFF_MAX_S)
                   * (1 + random.random() / 4))


def _attempt(
    tool: Tool, *, url: str, headers: dict[str, str], auth: dict[str, str], body: bytes | None,
    allowlist: Allowlist, max_bytes: int, attempt: int,
) -> tuple[ToolOutcome, bool]:
    """One try: (outcome, whether trying again is allowed)."""
    try:
        reply = fetch(method=tool.method, url=url, headers=headers, auth_headers=auth, body=body,
                      allowlist=allowlist, timeout_s=tool.timeout_ms / 1000, max_bytes=max_bytes)
    except RequestRefused as exc:
        return failed(str(exc), status=ExecutionStatus.REJECTED, attempts=attempt), False
    except (ResponseTooLarge, TooManyRedirects) as exc:
        return failed(f"The service's reply was not usable: {exc}", attempts=attempt), False
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        # The request never left: retrying cannot make the service act twice.
        status = (ExecutionStatus.TIMEOUT if isinstance(exc, httpx.ConnectTimeout)
                  else ExecutionStatus.FAILED)
        return failed("The service could not be reached.", status=status, attempts=attempt,
                      detail=f"{type(exc).__name__}: {exc}"), True
    except httpx.TimeoutException:
        return failed(f"The service did not answer within {tool.timeout_ms} ms.",
                      status=ExecutionStatus.TIMEOUT, attempts=attempt), tool.idempotent
    except httpx.HTTPError as exc:
        return failed("The connection to the service failed.", attempts=attempt,
                      detail=f"{type(exc).__name__}: {exc}"), tool.idempotent
    content = reply_content(reply)
    if reply.status >= 400:
        excerpt = as_text(content)[:ERROR_EXCERPT_CHARS]
        verb = "failed" if reply.status >= 500 else "refused the request"
        outcome = failed(f"The service {verb} (HTTP {reply.status}): {excerpt}",
                         http_status=reply.status, attempts=attempt)
        return outcome, tool.idempotent and (reply.status >= 500 or reply.status == 429)
    return succeeded(content, http_status=reply.status, attempts=attempt), False


def build_request(
    tool: Tool, arguments: dict[str, Any], values: dict[str, Any]
) -> tuple[str, dict[str, str], bytes | None]:
    """(url, headers, body) of the tool's request for these arguments (no auth headers)."""
    url = render_url(tool.url_template, values)
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json, text/*;q=0.9"}
    traceparent = tracing.current_traceparent()
    if traceparent:  # the call's trace goes on in the tenant's service (W3C Trace Context)
        headers["traceparent"] = traceparent
    headers.update(render_headers(tool.headers_template or {}, values))
    payload: Any = None
    if tool.body_mode == BodyMode.TEMPLATE:
        payload = render_body(tool.body_template, values)
    elif tool.body_mode == BodyMode.ARGS:
        if tool.method in _BODYLESS_METHODS:
            params = {name: as_text(value) for name, value in arguments.items()}
            return str(httpx.URL(url).copy_merge_params(params)), headers, None
        payload = arguments
    if payload is None:
        return url, headers, None
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return url, headers, json.dumps(payload, ensure_ascii=False).encode()


def reply_content(reply: HttpReply) -> Any:
    """Parsed JSON when the reply is JSON, else its text."""
    if not reply.body:
        return f"Done (HTTP {reply.status}, no content)."
    content_type = reply.headers.get("content-type", "").lower()
    if "json" in content_type:
        try:
            return json.loads(reply.body)
        except ValueError:
            pass
    try:
        return reply.body.decode(reply.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return reply.body.decode("utf-8", errors="replace")
