"""Cost per call (`make bench-cost`): typical scripted calls through Claude on Bedrock (the
wire-level fake, billing each request the way Bedrock does: tokens counted from the request,
prompt-cache reads and writes by its cache points), Deepgram speech-gated STT and Deepgram TTS,
priced with the configured `PRICE_*` settings. Run with prompt caching off and on.

The calls are written to be typical of the seed's use: a returning caller booking with a dental
clinic (a lookup and a booking tool, memory), a restaurant reservation (two table lookups and a
booking) and an IT help-desk ticket (an employee lookup, a ticket, a status check), each agent
with a realistic prompt, its knowledge, its tools' schemas and the built-in call control (the
calls end with `end_call`). Each takes 3-5 minutes to say (`TypicalCall.minutes`: both sides'
words at their pace, the wait for each answer, each tool's run), and the per-minute price is
over that length. Agent replies are the scripted model output (billed as output tokens); the
caller's audio streamed to the recogniser is their speech at 2.5 words a second plus half a
second per turn (what the speech gate sends).

It lives with the tests because it runs on a test fake (product code never imports test code).
Run it with `make bench-cost` (`BENCH_COST_ARGS="--json"`, `--model`, `--fast-model`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any

from calls.realtime.call_control import with_call_control
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

WORDS_PER_SECOND = 2.5  # the caller: 150 words a minute, a usual pace on the phone
AGENT_WORDS_PER_SECOND = 2.6  # the agent's voice (Deepgram Aura speaks about 155 a minute)
GATE_PADDING_S = 0.5
ANSWER_WAIT_S = 1.0  # from the caller's last word to the agent's first (end of turn + answer)
TOOL_RUN_S = 1.5  # a tool's round trip, while the caller waits
CALLER_GAP_S = 0.5  # from the agent's last word to the caller's first
GREETING = "Hello, how can I help?"


@dataclass(frozen=True)
class Step:
    caller: str
    reply: str
    tool: tuple[str, dict[str, Any], dict[str, Any]] | None = None  # name, arguments, result


@dataclass(frozen=True)
class TypicalCall:
    name: str
    prompt: str
    knowledge: list[tuple[str, str]]
    tools: list[ToolSpec]
    steps: list[Step]
    memory: dict[str, str] = field(default_factory=dict)  # what is remembered of this caller
    remembers: bool = False  # the agent remembers callers (its memory tools are offered)

    @property
    def minutes(self) -> float:
        """How long the script takes to say: both sides' words at their pace, the wait for
        each answer and each tool's run (the per-minute price is over this, not a label)."""
        caller = sum(len(step.caller.split()) for step in self.steps)
        agent = sum(len(line.split()) for line in (GREETING, *(s.reply for s in self.steps)))
        seconds = (caller / WORDS_PER_SECOND + agent / AGENT_WORDS_PER_SECOND
                   + (ANSWER_WAIT_S + CALLER_GAP_S) * sum(1 for step in self.steps
                                                          if step.caller)
                   + TOOL_RUN_S * sum(1 for step in self.steps if step.tool))
        return seconds / 60


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
        name="Dental booking (returning caller)",
        prompt=_prompt("Acme Dental", "You book, move and cancel appointments and answer "
                       "questions about treatments, prices, insurance and the practice."),
        knowledge=_qa("dental", 14), memory={"preferred_dentist": "Dr. Okafor",
                                             "last_book_appointment": "Tuesday at ten"},
        remembers=True,
        tools=[_tool("find_slots", "Free appointment slots on a day.",
                     {"day": "the day", "dentist": "the dentist's name"}),
               _tool("book_appointment", "Book an appointment.",
                     {"when": "day and time", "name": "the patient's name",
                      "reason": "why they come"})],
        steps=[
            Step("Hi, yes, this is Ana Lima. I've had a toothache since the weekend and I was "
                 "hoping Dr. Okafor could see me sometime this week.",
                 "Hi Ana, I'm sorry to hear that. Is the pain constant, or does it come and go?"),
            Step("It comes and goes, mostly when I drink something cold, and it's on the lower "
                 "left side.",
                 "Thank you. Do you have any swelling or a fever?"),
            Step("No, no swelling and no fever, it's just quite sore when I chew.",
                 "Good, then a regular appointment is fine. Which days this week work for you?"),
            Step("Thursday would be best, or Friday morning if Thursday is full.",
                 "Let me check Thursday with Dr. Okafor.",
                 ("find_slots", {"day": "Thursday", "dentist": "Dr. Okafor"},
                  {"slots": ["09:30", "14:00", "16:30"]})),
            Step("", "Dr. Okafor is free on Thursday at half past nine, at two, or at half past "
                     "four. Which suits you?"),
            Step("Half past nine is too early, I drop my kids at school. Two o'clock could "
                 "work, let me just check my calendar... yes, two is fine.",
                 "Thursday at two with Dr. Okafor. Can you confirm your date of birth for me?"),
            Step("It's the twelfth of March, nineteen eighty-seven.",
                 "Thank you, Ana. Is the mobile number ending in four four one still the best "
                 "way to reach you?"),
            Step("Yes, that's still my number.",
                 "Great. Shall I book Thursday at two for the toothache?"),
            Step("Yes, please go ahead.", "Booking that now.",
                 ("book_appointment", {"when": "Thursday 14:00", "name": "Ana Lima",
                                       "reason": "toothache, lower left"},
                  {"reference": "BA72"})),
            Step("", "You're booked for Thursday at two with Dr. Okafor. Your reference is B A "
                     "seven two, and we'll text you a reminder the day before."),
            Step("Lovely. Do I need to bring anything with me?",
                 "Just your insurance card and a list of any medicines you take."),
            Step("About the insurance, I changed my plan in January. Will the new one be "
                 "covered?",
                 "We accept most plans. The front desk checks your cover before the visit and "
                 "texts you if anything isn't included."),
            Step("And if it isn't covered, roughly how much is a check-up with an x-ray?",
                 "A check-up with x-rays is eighty-five dollars without insurance, and any "
                 "treatment is quoted before it starts."),
            Step("Okay, that's reasonable. Is there parking near the clinic? Last time I "
                 "couldn't find anything.",
                 "Yes, there's free parking behind the clinic; the entrance is on Mill Street."),
            Step("Oh good, I didn't know that. What if something comes up and I can't make it "
                 "on Thursday?",
                 "Just call us or reply to the reminder text a day ahead and we'll move it, "
                 "free of charge."),
            Step("And if the pain gets worse before Thursday, what should I do?",
                 "If it gets much worse, or you get swelling or a fever, call us and we'll fit "
                 "you in the same day. Out of hours, please go to urgent care."),
            Step("Can I take ibuprofen in the meantime?",
                 "I can't give medical advice, but our nurse line can. Would you like me to "
                 "transfer you to the nurse?"),
            Step("No, that's fine, I'll ask my pharmacist.",
                 "Good idea. Is there anything else I can help you with?"),
            Step("No, I think that's everything. Thanks so much for your help.",
                 "You're welcome, Ana. See you on Thursday at two. Goodbye!",
                 ("end_call", {}, {"ok": True})),
        ]),
    TypicalCall(
        name="Restaurant reservation",
        prompt=_prompt("Trattoria Luca", "You take table reservations and answer questions "
                       "about the menu, allergies, opening times and private events."),
        knowledge=_qa("menu", 12),
        tools=[_tool("find_tables", "Free tables at a date and time.",
                     {"when": "date and time", "party": "number of guests"}),
               _tool("reserve_table", "Reserve a table.",
                     {"when": "date and time", "party": "number of guests", "name": "name",
                      "phone": "phone number"})],
        steps=[
            Step("Hello, I'd like to book a table for this Saturday evening, for four people "
                 "if possible.",
                 "Happy to help. What time would you like on Saturday?"),
            Step("Around eight o'clock, or a little earlier if eight is busy.",
                 "Let me check Saturday at eight for four.",
                 ("find_tables", {"when": "Saturday 20:00", "party": "4"},
                  {"free": ["19:30", "20:45"]})),
            Step("", "Eight is full, I'm afraid. I have half past seven or a quarter to nine. "
                     "Would either work?"),
            Step("Half past seven is fine, we can make that.",
                 "Lovely. Could I have a name for the booking?"),
            Step("Marco Rossi. That's R O S S I.",
                 "Thank you, Marco. And a phone number in case we need to reach you?"),
            Step("Sure, it's five five five, zero one nine, two four six eight.",
                 "Five five five, zero one nine, two four six eight. Is that right?"),
            Step("Yes, that's right.",
                 "Reserving a table for four on Saturday at half past seven for Marco Rossi.",
                 ("reserve_table", {"when": "Saturday 19:30", "party": "4",
                                    "name": "Marco Rossi", "phone": "5550192468"},
                  {"confirmed": True})),
            Step("", "You're all set: Saturday at half past seven, four guests. We'll send a "
                     "confirmation by text."),
            Step("One of us is gluten free, is that a problem?",
                 "Not at all. Most of our pasta comes gluten free, just tell your waiter."),
            Step("And my daughter is allergic to nuts. Is the pesto made with nuts?",
                 "Our pesto does contain pine nuts, so the kitchen will make her dish without "
                 "it. I'll add a note to your booking."),
            Step("Thank you. Do you have parking nearby?",
                 "There's a public car park two minutes away on Station Road."),
            Step("Perfect. And if we're running a bit late?",
                 "We hold the table for fifteen minutes; just give us a call if you need "
                 "longer."),
            Step("Actually, it's my wife's birthday. Could we bring our own cake?",
                 "Of course. There's a small cake fee of two euros a person, and we're happy "
                 "to bring it out with candles."),
            Step("That's lovely. Do we need to order the cake through you, or just bring it "
                 "on the night?",
                 "Just bring it on the night and hand it to the host; I'll note the birthday "
                 "on your booking."),
            Step("Great. And what's the dress code, is it formal?",
                 "No dress code at all, smart casual is perfect."),
            Step("Oh, and we might be five people instead of four, my brother may join. Is "
                 "that okay?",
                 "Let me check a table for five at half past seven.",
                 ("find_tables", {"when": "Saturday 19:30", "party": "5"},
                  {"free": ["19:30"]})),
            Step("", "Yes, we can seat five at half past seven. Shall I change the booking to "
                     "five?"),
            Step("Not yet, he'll confirm tomorrow. Can I just call back then?",
                 "Of course, just call and we'll change it; the table for five stays "
                 "possible until Friday."),
            Step("Great, thanks a lot, that's everything.",
                 "Thank you, Marco. See you on Saturday. Goodbye!",
                 ("end_call", {}, {"ok": True})),
        ]),
    TypicalCall(
        name="IT help desk ticket",
        prompt=_prompt("Globex IT support", "You help employees with passwords, VPN, email "
                       "and laptops, open tickets and check their status."),
        knowledge=_qa("IT", 18),
        tools=[_tool("lookup_employee", "Find an employee by their ID.",
                     {"employee_id": "the employee ID"}),
               _tool("open_ticket", "Open a support ticket.",
                     {"employee_id": "the employee ID", "summary": "what is wrong",
                      "priority": "low, normal or high"}),
               _tool("ticket_status", "The status of an employee's open tickets.",
                     {"employee_id": "the employee ID"})],
        steps=[
            Step("Hi, my VPN stopped working this morning and I can't get to any of the "
                 "shared drives.",
                 "Sorry about that. Can I have your employee ID?"),
            Step("It's four seven one two.", "Thanks, one moment.",
                 ("lookup_employee", {"employee_id": "4712"},
                  {"name": "Priya Shah", "laptop": "LT-2231", "office": "Leeds"})),
            Step("", "Thanks, Priya. Are you working from home today?"),
            Step("Yes, I'm at home, on my work laptop.",
                 "Okay. When you try to connect, does the VPN app show an error message?"),
            Step("It says authentication failed, please check your credentials.",
                 "Have you changed your password in the last day or so?"),
            Step("Yes, yesterday afternoon, it asked me to.",
                 "The VPN may still have your old password saved. Please sign out of the VPN "
                 "app and sign back in with the new one."),
            Step("Okay, hold on... I've signed out. Now it's asking for the password again.",
                 "Good. Type the new password, then approve the prompt on your phone."),
            Step("Right, I approved it on my phone... and it still says authentication "
                 "failed.",
                 "Thanks for trying. Can you sign in to your email in the browser with the "
                 "new password?"),
            Step("Yes, email works fine with the new password.",
                 "Then your account is fine and the VPN profile is the problem. I'll open a "
                 "ticket for the network team."),
            Step("Please do, I have a deadline this afternoon.", "Opening it now.",
                 ("open_ticket", {"employee_id": "4712", "summary": "VPN authentication "
                                  "fails after password change; email sign-in works",
                                  "priority": "high"},
                  {"ticket": "INC-88412"})),
            Step("", "Your ticket is I N C eight eight four one two, at high priority because "
                     "of your deadline."),
            Step("How long will it take, roughly?",
                 "High priority tickets are picked up within an hour, and the team will call "
                 "you on your mobile."),
            Step("Okay. Can I work from the office meanwhile?",
                 "Yes, the office network doesn't need the VPN, so the shared drives will "
                 "work there."),
            Step("It's a forty-minute drive though. Is there anything else I can try from "
                 "home?",
                 "You can restart the laptop while connected to your home network; that "
                 "sometimes refreshes the profile. If it still fails, the team will fix it "
                 "remotely."),
            Step("I'll try the restart. Oh, and I opened a ticket last week about my "
                 "laptop's battery, is there any news?",
                 "Let me check your tickets.",
                 ("ticket_status", {"employee_id": "4712"},
                  {"tickets": [{"ticket": "INC-87950", "summary": "battery drains fast",
                                "status": "replacement ordered, arrives Friday"}]})),
            Step("", "The battery ticket, I N C eight seven nine five zero: a replacement is "
                     "ordered and arrives on Friday."),
            Step("Great, will someone come to install it?",
                 "Yes, the desk team will contact you to arrange a time, or you can drop the "
                 "laptop at the Leeds office."),
            Step("Okay, the office is easier. Can I just come in any time?",
                 "The IT desk in Leeds is open from eight to five on weekdays; bring the "
                 "laptop and its charger."),
            Step("Perfect. I think that's all for now.",
                 "You're welcome, Priya. The network team will call you within the hour. "
                 "Goodbye!",
                 ("end_call", {}, {"ok": True})),
        ]),
]


def run_call(llm, fake, call: TypicalCall, meter: CostMeter) -> None:
    """Play `call` through `llm` (BedrockLLM pointed at `fake`), adding its usage to `meter`."""
    from tests.fakes.bedrock import billed, text_turn, tool_turn

    tools = with_call_control(list(call.tools), llm_provider="bedrock", memory=call.remembers)
    conversation = Conversation(system_prompt=call.prompt, knowledge=list(call.knowledge),
                                tools=tools, memory=dict(call.memory),
                                caller_name="Ana Lima" if call.memory else "")
    conversation.messages.append(Message(role="assistant", text=GREETING))
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
            "call": call.name, "minutes": round(call.minutes, 2), "prompt_cache": prompt_cache,
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
