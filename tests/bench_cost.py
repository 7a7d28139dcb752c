"""Cost per call (`make bench-cost`): typical scripted calls through Claude on Bedrock (the
wire-level fake, billing each request the way Bedrock does: tokens counted from the request,
prompt-cache reads and writes by its cache points), Deepgram speech-gated STT and Deepgram TTS,
priced with the configured `PRICE_*` settings. Run with prompt caching off and on.

The calls are written to be typical of the seed's use: a returning caller booking with a dental
clinic (4 minutes, a lookup and a booking tool), a restaurant reservation (3 minutes, one tool)
and an IT help-desk ticket (5 minutes, two tools), each agent with a realistic prompt, its
knowledge and its tools' schemas. Agent replies are the scripted model output (billed as output
tokens); the caller's audio streamed to the recogniser is their speech at 2.5 words a second
plus half a second per turn (what the speech gate sends).

It lives with the tests because it runs on a test fake (product code never imports test code).
Run it with `make bench-cost` (`BENCH_COST_ARGS="--json"`, `--model`, `--fast-model`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from calls.realtime.costs import CostMeter
from calls.realtime.providers.llm.base import (
    Conversation,
    Done,
    Message,
    TextDelta,
    ToolCall,
    ToolResult,
    ToolSpec,
)

WORDS_PER_SECOND = 2.5
GATE_PADDING_S = 0.5


@dataclass(frozen=True)
class Step:
    caller: str
    reply: str
    tool: tuple[str, dict[str, Any], dict[str, Any]] | None = None  # name, arguments, result


@dataclass(frozen=True)
class TypicalCall:
    name: str
    minutes: float
    prompt: str
    knowledge: list[tuple[str, str]]
    tools: list[ToolSpec]
    steps: list[Step]
    memory: dict[str, str] = field(default_factory=dict)


def _prompt(business: str, duties: str) -> str:
    rules = (
        "Speak in one or two short sentences, as people do on the phone. Never read lists or "
        "markdown aloud. Confirm dates, times, names and numbers by repeating them back. If you "
        "are not sure what the caller said, ask again instead of guessing. Never give medical, "
        "legal or financial advice. Do not make up prices, opening hours or policies: answer "
        "from the knowledge below, and if it is not there, say so and offer to take a message "
        "or transfer to a person. Use the tools to look things up and to act; tell the caller "
        "what you are doing while a tool runs. When the caller is done, thank them and end the "
        "call with the end_call tool. If the caller asks for a human, is upset, or the request "
        "is outside what you can do, transfer them. Keep personal data to what the task needs; "
        "never ask for card numbers by voice: card payments use the keypad. ")
    return f"You are the voice agent of {business}. {duties} " + rules * 3


def _qa(topic: str, n: int) -> list[tuple[str, str]]:
    return [(f"What about {topic} question {i}?",
             f"Our policy on {topic} {i}: it is handled by the front desk within two working "
             f"days, at no extra cost, and we confirm it by text message.") for i in range(n)]


def _tool(name: str, description: str, properties: dict[str, str]) -> ToolSpec:
    return ToolSpec(name=name, description=description, parameters={
        "type": "object", "required": list(properties),
        "properties": {key: {"type": "string", "description": text}
                       for key, text in properties.items()}})


CALLS = [
    TypicalCall(
        name="Dental booking (returning caller)", minutes=4.0,
        prompt=_prompt("Acme Dental", "You book, move and cancel appointments and answer "
                       "questions about treatments, prices, insurance and the practice."),
        knowledge=_qa("dental", 14), memory={"preferred_dentist": "Dr. Okafor",
                                             "last_book_appointment": "Tuesday at ten"},
        tools=[_tool("find_slots", "Free appointment slots on a day.",
                     {"day": "the day", "dentist": "the dentist's name"}),
               _tool("book_appointment", "Book an appointment.",
                     {"when": "day and time", "name": "the patient's name",
                      "reason": "why they come"})],
        steps=[
            Step("Hi, it's Ana Lima, I need to see Dr. Okafor about a toothache.",
                 "Hi Ana, sorry to hear that. What day suits you best?"),
            Step("Is there anything on Thursday?", "Let me look at Thursday.",
                 ("find_slots", {"day": "Thursday", "dentist": "Dr. Okafor"},
                  {"slots": ["09:30", "14:00", "16:30"]})),
            Step("", "Dr. Okafor is free Thursday at half past nine, two, or half past four. "
                     "Which would you like?"),
            Step("Two o'clock, please.", "Thursday at two with Dr. Okafor. Shall I book it?"),
            Step("Yes, please.", "Booking that now.",
                 ("book_appointment", {"when": "Thursday 14:00", "name": "Ana Lima",
                                       "reason": "toothache"}, {"reference": "BA72"})),
            Step("", "You're booked for Thursday at two, reference B A seven two."),
            Step("Do I need to bring anything?", "Just your insurance card and a list of any "
                 "medicines you take."),
            Step("Does my insurance cover it?", "We accept most plans; the front desk checks "
                 "your cover before the visit and texts you."),
            Step("Okay. Can I park there?", "Yes, free parking is behind the clinic."),
            Step("Great, thanks a lot.", "You're welcome, Ana. Anything else?"),
            Step("No, that's all, bye.", "Goodbye, see you Thursday!"),
        ]),
    TypicalCall(
        name="Restaurant reservation", minutes=3.0,
        prompt=_prompt("Trattoria Luca", "You take table reservations and answer questions "
                       "about the menu, allergies, opening times and private events."),
        knowledge=_qa("menu", 12),
        tools=[_tool("reserve_table", "Reserve a table.",
                     {"when": "date and time", "party": "number of guests", "name": "name"})],
        steps=[
            Step("Hello, I'd like a table for four on Saturday evening.",
                 "Happy to help. What time on Saturday?"),
            Step("Around eight?", "And the name for the booking?"),
            Step("Marco Rossi.", "Reserving a table for four, Saturday at eight, for Marco.",
                 ("reserve_table", {"when": "Saturday 20:00", "party": "4",
                                    "name": "Marco Rossi"}, {"confirmed": True})),
            Step("", "You're all set: Saturday at eight, four guests."),
            Step("One of us is gluten free, is that okay?", "Yes, most of our pasta comes "
                 "gluten free, just tell your waiter."),
            Step("Do you have parking?", "There's a public car park two minutes away."),
            Step("Perfect, thank you.", "Thank you, Marco. Anything else?"),
            Step("No, bye.", "Goodbye, see you Saturday!"),
        ]),
    TypicalCall(
        name="IT help desk ticket", minutes=5.0,
        prompt=_prompt("Globex IT support", "You help employees with passwords, VPN, email "
                       "and laptops, open tickets and check their status."),
        knowledge=_qa("IT", 18),
        tools=[_tool("lookup_employee", "Find an employee by their ID.",
                     {"employee_id": "the employee ID"}),
               _tool("open_ticket", "Open a support ticket.",
                     {"employee_id": "the employee ID", "summary": "what is wrong",
                      "priority": "low, normal or high"})],
        steps=[
            Step("Hi, my VPN stopped working this morning.", "Sorry about that. What's your "
                 "employee ID?"),
            Step("It's four seven one two.", "Thanks, one moment.",
                 ("lookup_employee", {"employee_id": "4712"},
                  {"name": "Priya Shah", "laptop": "LT-2231"})),
            Step("", "Thanks Priya. Does the VPN app show an error?"),
            Step("It says authentication failed.", "Have you changed your password in the "
                 "last day?"),
            Step("Yes, yesterday.", "The VPN may still have the old one. Sign out of the app "
                 "and sign in with the new password."),
            Step("Okay, doing it now... it still fails.", "Then I'll open a ticket for the "
                 "network team."),
            Step("Please.", "Opening it now.",
                 ("open_ticket", {"employee_id": "4712", "summary": "VPN auth fails after "
                                  "password change", "priority": "high"},
                  {"ticket": "INC-88412"})),
            Step("", "Your ticket is I N C eight eight four one two, high priority."),
            Step("How long will it take?", "High priority tickets are picked up within an "
                 "hour."),
            Step("Can I work from the office meanwhile?", "Yes, the office network doesn't "
                 "need the VPN."),
            Step("Great, thanks.", "You're welcome, Priya. Anything else?"),
            Step("No, that's it.", "Goodbye!"),
        ]),
]


def run_call(llm, fake, call: TypicalCall, meter: CostMeter) -> None:
    """Play `call` through `llm` (BedrockLLM pointed at `fake`), adding its usage to `meter`."""
    from tests.fakes.bedrock import billed, text_turn, tool_turn

    conversation = Conversation(system_prompt=call.prompt, knowledge=list(call.knowledge),
                                tools=list(call.tools), memory=dict(call.memory),
                                caller_name="Ana Lima" if call.memory else "")
    conversation.messages.append(Message(role="assistant", text="Hello, how can I help?"))
    for number, step in enumerate(call.steps):
        if step.caller:
            conversation.messages.append(Message(role="user", text=step.caller))
            meter.add_stt("deepgram", seconds=len(step.caller.split()) / WORDS_PER_SECOND
                          + GATE_PADDING_S)
        if step.tool is not None:
            name, arguments, result = step.tool
            fake.queue(billed(tool_turn(step.reply, [(f"tool-{number}", name, arguments)])))
        else:
            fake.queue(billed(text_turn(step.reply)))
        said, calls = asyncio.run(_respond(llm, conversation, meter))
        meter.add_tts("deepgram", characters=len(said))
        conversation.messages.append(Message(role="assistant", text=said, tool_calls=calls))
        if step.tool is not None:
            conversation.messages.append(Message(role="tool", tool_results=[
                ToolResult(call.id, call.name, step.tool[2]) for call in calls]))


async def _respond(llm, conversation: Conversation, meter: CostMeter) -> tuple[str, list]:
    said, calls = [], []
    async for event in llm.respond(conversation):
        if isinstance(event, TextDelta):
            said.append(event.text)
        elif isinstance(event, ToolCall):
            calls.append(event)
        elif isinstance(event, Done):  # as the session prices it
            meter.add_llm("bedrock_fast" if event.tier == "fast" else "bedrock", event.usage)
    return "".join(said), calls


def cost_per_call(*, prompt_cache: bool, model: str, warm: bool = False,
                  fast_model: str | None = None) -> list[dict[str, Any]]:
    """Each typical call's cost with caching on or off. Cold: nothing cached yet, so the first
    request writes the agent's whole prefix (a call after a quiet spell). Warm: another call of
    the same agent ran within the cache's five minutes, so its instructions, knowledge and
    tools are read from the cache from the first request (a busy line)."""
    from calls.realtime.providers.llm.bedrock import BedrockLLM
    from tests.fakes.bedrock import FakeBedrock

    rows = []
    for call in CALLS:
        with FakeBedrock() as fake:
            llm = BedrockLLM(**fake.provider_options(), model=model, prompt_cache=prompt_cache,
                             fast_model=fast_model)
            if warm:  # an earlier caller's call, not counted
                run_call(llm, fake, replace(call, memory={}), CostMeter())
            meter = CostMeter()
            run_call(llm, fake, call, meter)
        estimate = meter.estimate()
        llm = estimate["llm"]
        tokens = {kind: sum(entry.get(f"{kind}_tokens", 0) for entry in llm.values())
                  for kind in ("input", "output", "cache_read", "cache_write")}
        prompt = tokens["input"] + tokens["cache_read"] + tokens["cache_write"]
        rows.append({
            "call": call.name, "minutes": call.minutes, "prompt_cache": prompt_cache,
            "warm": warm, "routed": fast_model is not None,
            "stt_usd": round(sum(e["usd"] for e in estimate["stt"].values()), 5),
            "tts_usd": round(sum(e["usd"] for e in estimate["tts"].values()), 5),
            "llm_usd": round(sum(e["usd"] for e in llm.values()), 5),
            "llm_input_usd": round(sum(_input_usd(name, e) for name, e in llm.items()), 5),
            "total_usd": round(estimate["total_usd"], 5),
            "usd_per_minute": round(estimate["total_usd"] / call.minutes, 5),
            "tokens": tokens, "fast_turns_share": round(
                sum(e.get("output_tokens", 0) for n, e in llm.items() if n.endswith("_fast"))
                / max(1, tokens["output"]), 2),
            "cache_hit_ratio": round(tokens["cache_read"] / prompt, 3) if prompt else 0.0})
    return rows


def _input_usd(provider: str, entry: dict[str, Any]) -> float:
    """What the prompt cost (input, cache reads and writes), at the configured prices."""
    from calls.realtime.costs import price_settings

    prices = price_settings()
    return sum(entry.get(f"{kind}_tokens", 0) / 1_000_000
               * float(prices.get(f"PRICE_{provider.upper()}_LLM_{kind.upper()}_PER_MTOK", 0.0))
               for kind in ("input", "cache_read", "cache_write"))


FAST_MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def main(argv: list[str] | None = None) -> None:
    import argparse
    import json
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aybiza.settings.dev")
    django.setup()
    from django.conf import settings

    parser = argparse.ArgumentParser(description="Cost per typical call, caching and routing "
                                                 "off and on.")
    parser.add_argument("--model", default=settings.BEDROCK_MODEL_ID)
    parser.add_argument("--fast-model", default=FAST_MODEL,
                        help="The fast model of the routed run (automatic model selection).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = (cost_per_call(prompt_cache=False, model=args.model)
            + cost_per_call(prompt_cache=True, model=args.model)
            + cost_per_call(prompt_cache=True, model=args.model, warm=True)
            + cost_per_call(prompt_cache=True, model=args.model, warm=True,
                            fast_model=args.fast_model))
    if args.json:
        print(json.dumps({"model": args.model, "calls": rows}))
        return
    print(f"model {args.model}; prices from the PRICE_* settings")
    print(f"{'call':38} {'cache':6} {'min':>4} {'STT $':>8} {'LLM $':>8} {'TTS $':>8} "
          f"{'total $':>8} {'$/min':>7} {'hit':>5}")
    for row in rows:
        print(f"{row['call']:38} {_mode(row):6} {row['minutes']:>4.1f} {row['stt_usd']:>8.4f} "
              f"{row['llm_usd']:>8.4f} {row['tts_usd']:>8.4f} {row['total_usd']:>8.4f} "
              f"{row['usd_per_minute']:>7.4f} {row['cache_hit_ratio']:>5.0%}")
    off = {row["call"]: row for row in rows if not row["prompt_cache"]}
    for row in rows:
        if row["prompt_cache"]:
            before = off[row["call"]]["llm_input_usd"]
            saved = 1 - row["llm_input_usd"] / before if before else 0.0
            print(f"{row['call']} ({_mode(row)}): caching cuts the prompt's cost by {saved:.0%}")


def _mode(row: dict) -> str:
    if row["routed"]:
        return "routed"
    return ("warm" if row["warm"] else "cold") if row["prompt_cache"] else "off"


if __name__ == "__main__":
    main()
