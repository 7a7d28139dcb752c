"""Stored calls as the live call leaves them (turns with latencies, events, tool runs, cost),
for portal tests and screenshots."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from calls.models import Call, CallEvent, CallStatus, Outcome, Role, Turn
from tools.models import ExecutionStatus, ToolExecution

_sids = itertools.count(1)

CONVERSATION = [
    (Role.AGENT, "Hello, thanks for calling Acme Dental. How can I help you today?", None),
    (Role.CALLER, "Hi, what are your opening hours?", None),
    (Role.AGENT, "We are open Monday to Friday, nine to five.", (180, 520, 690, 730)),
    (Role.CALLER, "Great. Can I book a check-up? My number is [PHONE].", None),
    (Role.AGENT, "One moment while I book that.", (210, 640, 820, 860)),
    (Role.AGENT, "You're booked for Tuesday at ten. Anything else?", (150, 410, 560, 600)),
    (Role.CALLER, "No, that's all, thank you.", None),
    (Role.AGENT, "Thanks for calling, goodbye!", (170, 380, 520, 555)),
]


def make_call(*, tenant, agent=None, started_at=None, from_number="+15550142233",
              outcome=Outcome.AGENT_ENDED, conversation=CONVERSATION, with_extras=True) -> Call:
    started_at = started_at or timezone.now() - timedelta(minutes=5)
    from memory.services import contact_for_caller

    call = Call.objects.create(
        tenant=tenant, agent=agent, call_sid=f"CA{next(_sids):032x}", from_number=from_number,
        contact=contact_for_caller(tenant=tenant, number=from_number),
        to_number="+15550100000", status=CallStatus.COMPLETED, started_at=started_at,
        ended_at=started_at + timedelta(seconds=42), duration_seconds=42, outcome=outcome,
        cost={"stt": {"deepgram": {"seconds": 21.5, "usd": 0.0028}},
              "llm": {"bedrock": {"input_tokens": 5400, "output_tokens": 120, "usd": 0.018}},
              "tts": {"deepgram": {"characters": 210, "usd": 0.0063}},
              "total_usd": 0.0271, "currency": "USD", "estimate": True} if with_extras else {},
    )
    offset = 0
    for index, (role, text, latency) in enumerate(conversation):
        stt, token, audio, frame = latency or (None, None, None, None)
        Turn.objects.create(
            tenant=tenant, call=call, index=index, role=role, text=text, start_ms=offset,
            end_ms=offset + 2500, stt_final_ms=stt, llm_first_token_ms=token,
            tts_first_audio_ms=audio, first_frame_ms=frame,
            redactions=["phone"] if "[PHONE]" in text else [])
        offset += 3000
    if with_extras:
        CallEvent.objects.create(tenant=tenant, call=call, type="barge_in", offset_ms=7400,
                                 payload={"turn": 4})
        CallEvent.objects.create(tenant=tenant, call=call, type="dtmf", offset_ms=9100,
                                 payload={"digit": "1"})
        ToolExecution.objects.create(
            tenant=tenant, call=call, tool_name="book_appointment",
            status=ExecutionStatus.SUCCEEDED, http_status=200, latency_ms=212, attempts=1)
    return call
