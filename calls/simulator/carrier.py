"""Twilio's REST API and phone network, simulated: the other end of calls the agent places.

Speaks Twilio's REST API 2010-04-01 as the twilio library uses it (PROTOCOLS §1.7–1.8):
form-encoded POSTs with HTTP basic auth (account SID : auth token) to
`/2010-04-01/Accounts/{AC}/Calls.json` (create), `/Calls/{CA}.json` (fetch, update) and
`/Messages.json`, answered with JSON shaped like Twilio's resources, and Twilio's error body
(`code`, `message`, `more_info`, `status`) on failure. A call created with a `Url` is then
placed like Twilio places it: signed status callbacks (`initiated`, `ringing`, `answered`,
`completed`), the TwiML fetched from the `Url`, the media stream opened with a signed
handshake, and — with `AsyncAmd` — the machine detection result posted to its callback.

Who answers is scripted per number (`callees`): a person who speaks lines (the call
simulator's ScriptedCaller), a voicemail box that plays a greeting and a beep and records what
follows, a busy line, a phone nobody picks up, or a number that fails.

TwiML given to a live call (`calls(sid).update(twiml=...)`) is followed like Twilio follows it:
`<Dial><Conference>` ends the call's media stream and puts it in the conference (on hold until
a participant with `startConferenceOnEnter` joins; `join` events posted to the conference's
`statusCallback`; `endConferenceOnExit` ends it for everyone), `<Dial><Number>` rings that
number's callee and posts `DialCallStatus` to the dial's `action` (following the TwiML it
answers), and `<Connect><Stream>` opens a
new media stream on the same call, where the person goes on with `lines_after_return`. A
person answering a call whose TwiML starts with `<Say>` hears it (kept in `heard`) first.
`make demo`'s campaign, the bench and the tests drive the same code (tests wrap it as a
threaded fake server).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import secrets
import time
import wave
import xml.etree.ElementTree as ET
from collections import Counter, deque
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
from aiohttp import web
from twilio.request_validator import RequestValidator

from calls.realtime.audio import pcm16_to_ulaw
from calls.simulator.caller import ScriptedCaller, Transcriber, parse_script
from calls.simulator.phone import MediaStreamPeer, StreamInfo, TwilioPhone

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "fake-twilio-auth-token"
CALL_STATUSES = {"queued", "ringing", "in-progress", "completed", "busy", "failed", "no-answer",
                 "canceled"}
VOICEMAIL_GREETING = "Hi, you have reached Sam. Please leave a message after the tone."
# How long a voicemail box records after the beep before it hangs up by itself.
VOICEMAIL_RECORD_S = 40.0
# A person's first words ("Hello?") and how long detection takes to call them human.
HUMAN_DETECTED_AFTER_S = 1.2


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


@dataclass
class Callee:
    """Who answers a number: "human" (speaks `lines`, a call-simulator script), "voicemail",
    "busy", "no-answer" or "failed"."""

    kind: str = "human"
    lines: list[str] = field(default_factory=list)
    greeting: str = VOICEMAIL_GREETING
    ring_s: float = 0.3
    # How long a person without lines stays on the line after the agent's opening (or in a
    # conference after joining it).
    linger_s: float = 1.0
    # What the person says when a new media stream brings the agent back on their call (after a
    # transfer nobody answered).
    lines_after_return: list[str] = field(default_factory=list)


@dataclass
class PlacedCall:
    """What the network saw of one call: its callbacks, what the callee heard."""

    sid: str
    to: str
    callee: Callee
    status: str = "queued"
    answered_at: float | None = None
    callbacks: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    answered_by: str = ""
    heard: list[str] = field(default_factory=list)  # the agent's words, transcribed
    message_audio: bytes = b""  # what a voicemail box recorded after its beep
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    peer: MediaStreamPeer | None = None
    error: str = ""
    # TwiML a `calls.update` gave the live call, to follow once its media stream has ended.
    next_twiml: ET.Element | None = None
    twiml_changed: asyncio.Event = field(default_factory=asyncio.Event)
    streams: int = 0  # media streams opened on this call


@dataclass
class Conference:
    """A TwiML conference room: who is in it, and whether it started (and ended)."""

    name: str
    members: list[str] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    events: list[tuple[str, str]] = field(default_factory=list)  # (event, call sid)


class Carrier:
    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID,
                 auth_token: str = DEFAULT_AUTH_TOKEN, *, transcribe: bool = False,
                 caller_voice: str = "", place_calls: bool = True,
                 create_delay_s: float = 0.0, routes: dict[str, str] | None = None) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.validator = RequestValidator(auth_token)
        self.requests: list[TwilioRequest] = []
        self.calls: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.errors: deque[ScriptedError] = deque()
        # Who answers each number; a list: one per attempt (the last one for every later call).
        self.callees: dict[str, Callee | list[Callee]] = {}
        self.default_callee = Callee()
        self.placed: dict[str, PlacedCall] = {}
        self.conferences: dict[str, Conference] = {}
        self.dials: Counter[str] = Counter()  # numbers dialled, for double-dial checks
        self.max_live = 0
        self.transcriber = Transcriber() if transcribe else None
        self.caller_voice = caller_voice
        # False: calls are only recorded (a test plays Twilio's callbacks itself).
        self.place_calls = place_calls
        # How long `calls.create` takes to answer (the call exists from the start of it).
        self.create_delay_s = create_delay_s
        # Public origin → where it is served here, as a TLS-terminating load balancer would
        # ({"https://voice.example.com": "http://127.0.0.1:8000"}); signatures stay over the
        # public URL.
        self.routes = routes or {}
        self._tasks: set[asyncio.Task] = set()
        self._speaker: ScriptedCaller | None = None
        self._speech_cache: dict[str, bytes] = {}

    # -- scripting ---------------------------------------------------------------------------
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

    def _callee(self, to: str) -> Callee:
        script = self.callees.get(to, self.default_callee)
        if isinstance(script, list):
            return script[min(self.dials[to], len(script)) - 1]
        return script

    @property
    def live_calls(self) -> int:
        return sum(1 for call in self.placed.values() if not call.ended.is_set())

    async def wait_idle(self, timeout_s: float = 60.0) -> None:
        """Until every placed call has ended."""
        deadline = time.monotonic() + timeout_s
        while self.live_calls and time.monotonic() < deadline:
            await asyncio.sleep(0.05)

    # -- server ------------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        app = web.Application()
        base = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(f"{base}/Calls.json", self._calls_create)
        app.router.add_get(f"{base}/Calls/{{sid}}.json", self._calls_fetch)
        app.router.add_post(f"{base}/Calls/{{sid}}.json", self._calls_update)
        app.router.add_post(f"{base}/Messages.json", self._messages_create)
        app.on_shutdown.append(self._cancel_calls)
        return app

    async def _cancel_calls(self, app: web.Application) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

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
        self.dials[to] += 1
        if recorded.value("Url") and self.place_calls:
            placed = PlacedCall(sid=sid, to=to, callee=self._callee(to))
            self.placed[sid] = placed
            self.max_live = max(self.max_live, self.live_calls)
            self._spawn(self._place(placed, recorded))
        if self.create_delay_s:
            await asyncio.sleep(self.create_delay_s)
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
            placed = self.placed.get(recorded.sid)
            if placed is not None and placed.peer is not None:  # Twilio ends the stream
                self._spawn(placed.peer.hang_up())
        if recorded.value("Twiml") is not None:
            call["twiml"] = recorded.value("Twiml")
            placed = self.placed.get(recorded.sid)
            if placed is not None and self.place_calls:
                self._follow(placed, recorded.value("Twiml"))
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
        assert status in CALL_STATUSES, status
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

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _follow(self, placed: PlacedCall, twiml: str) -> None:
        """New TwiML for a live call: its media stream ends (Twilio leaves `<Connect>`), and the
        call goes on with the new instructions."""
        placed.next_twiml = ET.fromstring(twiml)
        placed.twiml_changed.set()
        if placed.peer is not None and not placed.peer.closed.is_set():
            self._spawn(placed.peer.hang_up())

    # -- placing a call ------------------------------------------------------------------------
    async def _place(self, placed: PlacedCall, request: TwilioRequest) -> None:
        try:
            await self._ring_and_connect(placed, request)
        except Exception as exc:  # a broken call still ends, and says why
            placed.error = f"{type(exc).__name__}: {exc}"
            if placed.status not in ("completed", "busy", "failed", "no-answer", "canceled"):
                await self._set_status(placed, request, "failed", event="completed")
        finally:
            placed.ended.set()

    async def _ring_and_connect(self, placed: PlacedCall, request: TwilioRequest) -> None:
        callee = placed.callee
        await self._set_status(placed, request, "queued", event="initiated")
        await asyncio.sleep(callee.ring_s)
        if self.calls[placed.sid]["status"] == "canceled":
            return
        await self._set_status(placed, request, "ringing", event="ringing")
        if callee.kind in ("busy", "failed", "no-answer"):
            await asyncio.sleep(callee.ring_s if callee.kind == "no-answer" else 0)
            await self._set_status(placed, request, callee.kind, event="completed",
                                   duration="0")
            return
        placed.answered_at = time.monotonic()
        await self._set_status(placed, request, "in-progress", event="answered")
        root = await self._fetch_twiml(placed, request)
        if root.find("./Connect/Stream") is None:  # e.g. a transfer's brief, then a conference
            placed.next_twiml = root
        else:
            peer = await self._open_stream(placed, root)
            if callee.kind == "voicemail":
                await self._voicemail(placed, request, peer)
            else:
                await self._person(placed, request, peer, callee.lines)
        while placed.next_twiml is not None and not placed.ended.is_set():
            root, placed.next_twiml = placed.next_twiml, None
            placed.twiml_changed.clear()
            await self._follow_twiml(placed, request, root)
        duration = str(int(time.monotonic() - placed.answered_at))
        status = "completed" if self.calls[placed.sid]["status"] != "canceled" else "canceled"
        await self._set_status(placed, request, status, event="completed", duration=duration)

    async def _fetch_twiml(self, placed: PlacedCall, request: TwilioRequest) -> ET.Element:
        url = request.value("Url") or ""
        params = {"CallSid": placed.sid, "AccountSid": self.account_sid,
                  "From": request.value("From") or "", "To": placed.to,
                  "CallStatus": "in-progress", "ApiVersion": API_VERSION,
                  "Direction": "outbound-api"}
        response = await self._post(url, params)
        root = ET.fromstring(response.text)
        if root.find("./Connect/Stream") is None and root.find("./Dial/Conference") is None:
            raise RuntimeError(f"no <Connect><Stream> in the answer: {response.text[:200]}")
        return root

    async def _open_stream(self, placed: PlacedCall, root: ET.Element) -> MediaStreamPeer:
        stream = root.find("./Connect/Stream")
        parameters = {p.get("name", ""): p.get("value", "") for p in stream.findall("Parameter")}
        info = StreamInfo(call_sid=placed.sid, account_sid=self.account_sid,
                          url=stream.get("url", ""), parameters=parameters,
                          twiml=ET.tostring(root, encoding="unicode"))
        public = _origin(info.url, http=True)
        phone = TwilioPhone(self.routes.get(public, public), self.auth_token,
                            account_sid=self.account_sid, public_base_url=public)
        placed.peer = MediaStreamPeer(await phone.open_stream(info), info)
        placed.streams += 1
        return placed.peer

    async def _follow_twiml(self, placed: PlacedCall, request: TwilioRequest,
                            root: ET.Element) -> None:
        for verb in root:  # what the person hears first: Twilio's voice, or audio it fetches
            if verb.tag == "Say":
                placed.heard.append(f"said: {verb.text or ''}")
                await asyncio.sleep(min(2.0, 0.05 * len((verb.text or "").split())))
            elif verb.tag == "Play":
                placed.heard.append(await self._play(verb.text or ""))
        conference = root.find("./Dial/Conference")
        dialled = root.find("./Dial/Number")
        if dialled is None:
            dialled = root.find("./Dial/Sip")
        if conference is not None:
            await self._conference(placed, conference)
        elif dialled is not None:
            await self._dial(placed, root.find("./Dial"), dialled.text or "")
        elif root.find("./Connect/Stream") is not None:
            peer = await self._open_stream(placed, root)
            await self._person(placed, request, peer, placed.callee.lines_after_return)

    async def _dial(self, placed: PlacedCall, dial: ET.Element, target: str) -> None:
        """<Dial><Number|Sip>: the caller's call rings the target; when that leg ends, Twilio
        asks the `action` URL what next (and follows its TwiML) or hangs up."""
        self.dials[target] += 1
        callee = self._callee(target)
        await asyncio.sleep(callee.ring_s)
        status = callee.kind if callee.kind in ("busy", "no-answer", "failed") else "completed"
        if status == "completed":
            await asyncio.sleep(callee.linger_s)  # they talk, then hang up
        action = dial.get("action")
        if not action:
            return
        response = await self._post(action, {
            "CallSid": placed.sid, "AccountSid": self.account_sid, "DialCallStatus": status,
            "DialCallSid": "CA" + secrets.token_hex(16), "DialCallDuration": "0"})
        placed.next_twiml = ET.fromstring(response.text)

    async def _play(self, url: str) -> str:
        """Fetch a <Play> URL as Twilio does (a GET, no signature) and 'play' it."""
        fetch, headers = self._routed(url)
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(fetch, headers=headers)
        if response.status_code != 200 or not response.headers.get(
                "content-type", "").startswith("audio/"):
            return f"play failed: HTTP {response.status_code}"
        with wave.open(io.BytesIO(response.content)) as audio:
            seconds = audio.getnframes() / audio.getframerate()
            pcm = np.frombuffer(audio.readframes(audio.getnframes()), dtype=np.int16)
        text = ""
        if self.transcriber is not None:
            text = await self.transcriber.transcribe(pcm16_to_ulaw(pcm))
        return f"played {seconds:.1f} s: {text}".rstrip(": ")

    async def _conference(self, placed: PlacedCall, noun: ET.Element) -> None:
        """In the room until it ends, or new TwiML takes the call elsewhere."""
        room = self.conferences.setdefault(noun.text or "", Conference(noun.text or ""))
        room.members.append(placed.sid)
        room.events.append(("join", placed.sid))
        if noun.get("startConferenceOnEnter", "true") == "true":
            room.started.set()
        url, wanted = noun.get("statusCallback"), (noun.get("statusCallbackEvent") or "").split()
        if url and "join" in wanted:
            await self._post(url, {"ConferenceSid": "CF" + secrets.token_hex(16),
                                   "FriendlyName": room.name, "AccountSid": self.account_sid,
                                   "CallSid": placed.sid, "StatusCallbackEvent":
                                   "participant-join", "Timestamp": formatdate(usegmt=True)})
        ends_it = noun.get("endConferenceOnExit") == "true"
        if placed.callee.kind == "human" and room.started.is_set() and len(room.members) > 1:
            # The person who joined last talks with the caller a while, then hangs up.
            await asyncio.sleep(placed.callee.linger_s)
        else:
            waiters = [asyncio.ensure_future(room.ended.wait()),
                       asyncio.ensure_future(placed.twiml_changed.wait())]
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for waiter in waiters:
                waiter.cancel()
        room.members.remove(placed.sid)
        room.events.append(("leave", placed.sid))
        if ends_it and not placed.twiml_changed.is_set():
            room.ended.set()

    async def _person(self, placed: PlacedCall, request: TwilioRequest,
                      peer: MediaStreamPeer, lines: list[str]) -> None:
        if placed.streams == 1:
            self._spawn(self._detected(placed, request, "human", HUMAN_DETECTED_AFTER_S))
        if lines:  # a conversation, which hangs up after its script
            caller = ScriptedCaller(None, to=placed.to, from_=request.value("From") or "",
                                    voice=self.caller_voice, transcriber=self.transcriber,
                                    printer=lambda line: None)
            report = await caller.converse(peer, parse_script(lines))
            placed.heard.extend(f"{turn.who}: {turn.text}" for turn in report.turns)
            return
        await peer.start()  # listens to the agent's opening, then hangs up
        await peer.wait_agent_turn(started_after=peer.t0, timeout_s=30)
        if not peer.closed.is_set():
            await asyncio.sleep(placed.callee.linger_s)
            await peer.hang_up()

    async def _voicemail(self, placed: PlacedCall, request: TwilioRequest,
                         peer: MediaStreamPeer) -> None:
        greeting = await self._speech(placed.callee.greeting)
        await peer.start()
        started = time.monotonic()
        peer.say(greeting + _beep())
        await peer.wait_caller_done()
        recorded_from = len(peer.agent_track)
        await self._detected(placed, request, "machine_end_beep", 0,
                             duration_ms=int((time.monotonic() - started) * 1000))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(peer.closed.wait(), VOICEMAIL_RECORD_S)
        if peer.closed.is_set():
            await peer.stop()
        else:
            await peer.hang_up()
        placed.message_audio = bytes(peer.agent_track[recorded_from:])
        if self.transcriber is not None and placed.message_audio:
            placed.heard.append(await self.transcriber.transcribe(placed.message_audio))

    async def _speech(self, text: str) -> bytes:
        """A line spoken by the callee's voice (synthesised once per text)."""
        if text not in self._speech_cache:
            if self._speaker is None:
                self._speaker = ScriptedCaller(None, to="", from_="", voice=self.caller_voice)
            self._speech_cache[text] = await self._speaker.speech(text)
        return self._speech_cache[text]

    async def _detected(self, placed: PlacedCall, request: TwilioRequest, answered_by: str,
                        after_s: float, *, duration_ms: int | None = None) -> None:
        url = request.value("AsyncAmdStatusCallback")
        if request.value("MachineDetection") is None or not url:
            return
        await asyncio.sleep(after_s)
        placed.answered_by = answered_by
        await self._post(url, {"CallSid": placed.sid, "AccountSid": self.account_sid,
                               "AnsweredBy": answered_by, "MachineDetectionDuration":
                               str(duration_ms if duration_ms is not None
                                   else int(after_s * 1000))})

    async def _set_status(self, placed: PlacedCall, request: TwilioRequest, status: str, *,
                          event: str, duration: str | None = None) -> None:
        placed.status = status
        if self.calls[placed.sid]["status"] != "canceled":
            self.calls[placed.sid]["status"] = status
        url = request.value("StatusCallback")
        wanted = request.form.get("StatusCallbackEvent") or ["completed"]
        if not url or event not in wanted:
            return
        params = {"CallSid": placed.sid, "AccountSid": self.account_sid,
                  "From": request.value("From") or "", "To": placed.to, "CallStatus": status,
                  "ApiVersion": API_VERSION, "Direction": "outbound-api",
                  "CallbackSource": "call-progress-events", "Timestamp": formatdate(usegmt=True),
                  "SequenceNumber": str(len(placed.callbacks))}
        if duration is not None:
            params["CallDuration"] = duration
        placed.callbacks.append((event, params))
        await self._post(url, params)

    def _routed(self, url: str) -> tuple[str, dict[str, str]]:
        """Where a public URL is served here, and the headers a TLS-terminating load balancer
        would add (`routes`); other URLs as they are."""
        origin = _origin(url)
        if origin not in self.routes:
            return url, {}
        return (self.routes[origin] + url[len(origin):],
                {"X-Forwarded-Proto": "https", "Host": urlsplit(origin).netloc})

    async def _post(self, url: str, params: dict[str, str]) -> httpx.Response:
        signature = self.validator.compute_signature(url, params)
        url, headers = self._routed(url)
        headers["X-Twilio-Signature"] = signature
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.post(url, data=params, headers=headers)
        if response.status_code >= 400:
            raise RuntimeError(f"{url.split('?')[0]} answered {response.status_code}")
        return response


def _origin(url: str, *, http: bool = False) -> str:
    parts = urlsplit(url)
    scheme = {"wss": "https", "ws": "http"}.get(parts.scheme, parts.scheme) if http \
        else parts.scheme
    return f"{scheme}://{parts.netloc}"


def _beep(seconds: float = 0.4, hz: float = 1000.0) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return pcm16_to_ulaw((np.sin(2 * np.pi * hz * t) * 8000).astype(np.int16))


def _error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "status": status,
                              "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                             status=status)
