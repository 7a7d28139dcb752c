"""A small outbound campaign run end to end on the embedded default (`manage.py campaign_demo`,
and the end-to-end test): the demo dental agent calls three people through the simulated
carrier (calls/simulator/carrier.py) — one who books, a voicemail box that gets the message,
and a line that is busy, retried, then answers — all driven through the public API.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from calls.simulator.carrier import Callee, Carrier

BOOKER_LINES = ["I would like to book an appointment.", "Next Tuesday at ten in the morning.",
                "Yes, please.", "Thank you, goodbye."]


@dataclass(frozen=True)
class Person:
    number: str
    name: str
    callee: Callee | list[Callee]


PEOPLE = (
    Person("+15550100301", "Ana", Callee(kind="human", lines=BOOKER_LINES)),
    Person("+15550100302", "Sam", Callee(kind="voicemail")),
    Person("+15550100303", "Bo", [Callee(kind="busy"),
                                  Callee(kind="human", lines=["Not today, thank you. Goodbye."])]),
)


async def run_campaign(*, base_url: str, api_key: str, agent_id: int, from_e164: str,
                       carrier: Carrier, printer: Callable[[str], None] = print,
                       retry_delay_s: int = 2, timeout_s: float = 300.0) -> dict[str, Any]:
    """Create the campaign over the API, upload the people, start it, follow it to the end."""
    for person in PEOPLE:
        carrier.callees[person.number] = person.callee
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=f"{base_url}/api/v1", headers=headers,
                                 timeout=30) as api:
        numbers = (await api.get("/phone-numbers/", params={"page_size": 100})).json()
        from_id = next(n["id"] for n in numbers["results"] if n["e164"] == from_e164)
        created = await api.post("/campaigns/", json={
            "name": "Check-up reminders", "agent": agent_id, "from_number": from_id,
            "legal_basis": "existing_customer", "window_days": [0, 1, 2, 3, 4, 5, 6],
            "window_start": "00:00", "window_end": "23:59", "max_concurrent": 3,
            "calls_per_second": 1, "max_attempts": 2, "retry_delay_s": retry_delay_s})
        created.raise_for_status()
        campaign_id = created.json()["id"]
        rows = "\n".join(["phone,name", *(f"{p.number},{p.name}" for p in PEOPLE)])
        (await api.post(f"/campaigns/{campaign_id}/rows/", json={"csv": rows})).raise_for_status()
        (await api.post(f"/campaigns/{campaign_id}/start/")).raise_for_status()
        printer(f"Campaign {campaign_id} started: {len(PEOPLE)} people, from {from_e164}.")
        detail = await _follow(api, campaign_id, printer, timeout_s)
        await carrier.wait_idle(timeout_s=30)
        rows = (await api.get(f"/campaigns/{campaign_id}/rows/")).json()["results"]
        export = (await api.get(f"/campaigns/{campaign_id}/export/")).text
        since = detail["created_at"]
        calls = {person.number: await _calls_with(api, person.number, since)
                 for person in PEOPLE}
    return {"campaign": detail, "rows": rows, "export": export, "calls": calls}


async def _calls_with(api: httpx.AsyncClient, number: str,
                      since: str) -> list[dict[str, Any]]:
    """The campaign's stored calls to `number`, oldest first, each with its transcript."""
    listed = (await api.get("/calls/", params={"number": number, "started_after": since})
              ).json()["results"]
    return [(await api.get(f"/calls/{call['id']}/")).json() for call in reversed(listed)]


async def _follow(api: httpx.AsyncClient, campaign_id: int, printer: Callable[[str], None],
                  timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    shown = ""
    while True:
        detail = (await api.get(f"/campaigns/{campaign_id}/")).json()
        counts = {state: n for state, n in detail["progress"]["by_state"].items() if n}
        line = ", ".join(f"{state} {n}" for state, n in sorted(counts.items()))
        if line != shown:
            printer(f"  progress: {line}  (attempts {detail['progress']['attempts']})")
            shown = line
        if detail["status"] in ("completed", "cancelled"):
            return detail
        if time.monotonic() > deadline:
            raise TimeoutError(f"campaign {campaign_id} still {detail['status']} after "
                               f"{timeout_s:.0f} s")
        await asyncio.sleep(0.5)


def print_results(result: dict[str, Any], carrier: Carrier,
                  printer: Callable[[str], None] = print) -> None:
    printer("")
    printer(f"{'row':>3}  {'number':<13} {'name':<5} {'state':<10} {'attempts':>8}  result")
    for row in result["rows"]:
        printer(f"{row['row_number']:>3}  {row['phone_number']:<13} {row['name']:<5} "
                f"{row['state']:<10} {row['attempts']:>8}  {row['result']}")
    for person in PEOPLE:
        printer("")
        printer(f"{person.name} ({person.number}): dialled {carrier.dials[person.number]}×")
        for call in result["calls"][person.number]:
            answered = f", answered by {call['answered_by']}" if call["answered_by"] else ""
            outcome = f", {call['outcome']}" if call["outcome"] else ""
            printer(f"  {call['call_sid'][:12]}…  {call['status']}{answered}{outcome}")
            for turn in call["turns"]:
                who = "AGENT " if turn["role"] == "agent" else "CALLEE"
                printer(f"    {who} │ {turn['text']}")
