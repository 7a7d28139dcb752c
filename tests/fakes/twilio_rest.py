"""A fake Twilio REST API (2010-04-01): Calls create/fetch/update and Messages create.

Speaks what the twilio library sends for `calls/twilio.py` and `tools/builtins/twilio_rest.py`
(outbound calls, live-call updates): form-encoded POSTs with HTTP basic
auth (account SID : auth token) to `/2010-04-01/Accounts/{AC}/Calls.json`,
`/Calls/{CA}.json` and `/Messages.json`, answered with JSON shaped like Twilio's resources and
Twilio's error body (`code`, `message`, `more_info`, `status`) on failure. Every request is
recorded in `requests`; known calls and sent messages are in `calls` and `messages`.

    with FakeTwilioRest() as twilio:
        settings.TWILIO_ACCOUNT_SID, ... = twilio.settings_overrides().values()  # or override
        twilio.add_call("CA…", status="in-progress")
        ...  # code under test uses twilio.rest.Client with client.api.base_url = twilio.base_url
        assert twilio.requests[-1].form["Status"] == ["completed"]
"""

from __future__ import annotations

import base64
import secrets
from collections import deque
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from tests.fakes import FakeServer

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "fake-twilio-auth-token"
_CALL_STATUSES = {"queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
                  "canceled"}


@dataclass
class TwilioRequest:
    method: str
    path: str
    resource: str  # "calls.create", "calls.fetch", "calls.update", "messages.create"
    sid: str | None
    form: dict[str, list[str]]
    authorized: bool

    def value(self, name: str) -> str | None:
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class ScriptedError:
    status: int = 400
    code: int = 21211
    message: str = "The 'To' number is not a valid phone number."


class FakeTwilioRest(FakeServer):
    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID,
                 auth_token: str = DEFAULT_AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[TwilioRequest] = []
        self.calls: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.errors: deque[ScriptedError] = deque()

    # -- scripting ---------------------------------------------------------------------------
    def settings_overrides(self) -> dict[str, str]:
        """Django settings that point `tools.builtins.twilio_rest.twilio_client` here."""
        return {"TWILIO_ACCOUNT_SID": self.account_sid, "TWILIO_AUTH_TOKEN": self.auth_token,
                "TWILIO_API_BASE_URL": self.base_url}

    def add_call(self, sid: str | None = None, *, status: str = "in-progress",
                 to: str = "+15550100000", from_: str = "+15550109999") -> str:
        """A call Twilio knows about (e.g. the live inbound call a tool acts on)."""
        sid = sid or "CA" + secrets.token_hex(16)
        self.calls[sid] = self._call_resource(sid, to=to, from_=from_, status=status,
                                              direction="inbound")
        return sid

    def fail_next(self, status: int = 400, code: int = 21211,
                  message: str = "The 'To' number is not a valid phone number.") -> None:
        self.errors.append(ScriptedError(status, code, message))

    def last(self, resource: str) -> TwilioRequest:
        return next(r for r in reversed(self.requests) if r.resource == resource)

    # -- server ------------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application()
        base = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(f"{base}/Calls.json", self._calls_create)
        app.router.add_get(f"{base}/Calls/{{sid}}.json", self._calls_fetch)
        app.router.add_post(f"{base}/Calls/{{sid}}.json", self._calls_update)
        app.router.add_post(f"{base}/Messages.json", self._messages_create)
        return app

    async def _record(self, request: web.Request, resource: str) -> TwilioRequest:
        body = (await request.read()).decode()
        recorded = TwilioRequest(
            method=request.method, path=request.path, resource=resource,
            sid=request.match_info.get("sid"), form=parse_qs(body, keep_blank_values=True),
            authorized=self._authorized(request),
        )
        self.requests.append(recorded)
        return recorded

    def _authorized(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return (request.headers.get("Authorization") == f"Basic {expected}"
                and request.match_info["account"] == self.account_sid)

    def _refusal(self, recorded: TwilioRequest) -> web.Response | None:
        if not recorded.authorized:
            return _error(401, 20003, "Authenticate")
        if self.errors:
            scripted = self.errors.popleft()
            return _error(scripted.status, scripted.code, scripted.message)
        return None

    async def _calls_create(self, request: web.Request) -> web.Response:
        recorded = await self._record(request, "calls.create")
        refusal = self._refusal(recorded)
        if refusal is not None:
            return refusal
        to, from_ = recorded.value("To"), recorded.value("From")
        if not to or not from_ or not (recorded.value("Url") or recorded.value("Twiml")):
            return _error(400, 21205, "Url, Twiml or ApplicationSid is required.")
        sid = "CA" + secrets.token_hex(16)
        self.calls[sid] = self._call_resource(sid, to=to, from_=from_, status="queued",
                                              direction="outbound-api")
        return web.json_response(self.calls[sid], status=201)

    async def _calls_fetch(self, request: web.Request) -> web.Response:
        recorded = await self._record(request, "calls.fetch")
        refusal = self._refusal(recorded) or self._missing_call(recorded.sid)
        return refusal or web.json_response(self.calls[recorded.sid])

    async def _calls_update(self, request: web.Request) -> web.Response:
        recorded = await self._record(request, "calls.update")
        refusal = self._refusal(recorded) or self._missing_call(recorded.sid)
        if refusal is not None:
            return refusal
        call = self.calls[recorded.sid]
        status = recorded.value("Status")
        if status is not None:
            if status not in ("completed", "canceled"):
                return _error(400, 21218, f"Invalid Status {status!r}.")
            call["status"] = status
        if recorded.value("Twiml") is not None:
            call["twiml"] = recorded.value("Twiml")
        call["date_updated"] = formatdate(usegmt=True)
        return web.json_response(call)

    async def _messages_create(self, request: web.Request) -> web.Response:
        recorded = await self._record(request, "messages.create")
        refusal = self._refusal(recorded)
        if refusal is not None:
            return refusal
        to, from_, body = recorded.value("To"), recorded.value("From"), recorded.value("Body")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not from_:
            return _error(400, 21603, "A 'From' phone number is required.")
        if not body:
            return _error(400, 21602, "Message body is required.")
        sid = "SM" + secrets.token_hex(16)
        now = formatdate(usegmt=True)
        self.messages[sid] = {
            "sid": sid, "account_sid": self.account_sid, "to": to, "from": from_, "body": body,
            "status": "queued", "direction": "outbound-api", "num_segments": "1",
            "num_media": "0", "api_version": API_VERSION, "date_created": now,
            "date_updated": now, "date_sent": None, "error_code": None, "error_message": None,
            "messaging_service_sid": None, "price": None, "price_unit": "USD",
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
            "subresource_uris": {"media": f"/{API_VERSION}/Accounts/{self.account_sid}"
                                          f"/Messages/{sid}/Media.json"},
        }
        return web.json_response(self.messages[sid], status=201)

    def _missing_call(self, sid: str | None) -> web.Response | None:
        if sid in self.calls:
            return None
        return _error(404, 20404, f"The requested resource /{API_VERSION}/Accounts/"
                                  f"{self.account_sid}/Calls/{sid}.json was not found")

    def _call_resource(self, sid: str, *, to: str, from_: str, status: str,
                       direction: str) -> dict[str, Any]:
        assert status in _CALL_STATUSES, status
        now = formatdate(usegmt=True)
        return {
            "sid": sid, "account_sid": self.account_sid, "to": to, "to_formatted": to,
            "from": from_, "from_formatted": from_, "status": status, "direction": direction,
            "api_version": API_VERSION, "date_created": now, "date_updated": now,
            "start_time": None, "end_time": None, "duration": None, "price": None,
            "price_unit": "USD", "parent_call_sid": None, "phone_number_sid": None,
            "answered_by": None, "caller_name": None, "forwarded_from": None, "group_sid": None,
            "queue_time": "0", "trunk_sid": None,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{sid}.json",
            "subresource_uris": {},
        }


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "status": status,
                              "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                             status=status)
