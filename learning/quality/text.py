"""The offline brain on the evaluation sets, as text: the intent it takes each utterance for,
the slot values it fills, and whether its reply holds the expected words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agents.demo_agents import DemoAgent
from calls.realtime.loader import stt_vocabulary
from calls.realtime.providers.llm.base import Conversation, Message, ToolSpec
from calls.realtime.providers.llm.offline.dialogue import plan
from calls.realtime.providers.llm.offline.slots import Invalid, argument_value
from calls.realtime.providers.llm.offline.when import Clock, clock_of
from learning.quality.dataset import NOW, Utterance


@dataclass
class Tally:
    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += ok
        self.total += 1

    @property
    def rate(self) -> float | None:
        return self.right / self.total if self.total else None


@dataclass
class TextReport:
    agent: str
    intents: Tally = field(default_factory=Tally)
    slots: Tally = field(default_factory=Tally)
    answers: Tally = field(default_factory=Tally)
    misses: list[str] = field(default_factory=list)
    fills: int = 0  # answers to a question, judged by their slots only

    def as_dict(self) -> dict[str, Any]:
        return {"agent": self.agent, "utterances": self.intents.total + self.fills,
                "intent_accuracy": self.intents.rate, "slot_accuracy": self.slots.rate,
                "answer_accuracy": self.answers.rate, "misses": self.misses}


def conversation_for(demo: DemoAgent) -> Conversation:
    """A fresh call to a demo agent, on the evaluation's clock."""
    tools = [ToolSpec(name=tool["name"], description=tool["description"],
                      parameters=tool["parameters"], trigger_phrases=tool["trigger_phrases"],
                      confirm=not tool["idempotent"]) for tool in demo.tools]
    return Conversation(system_prompt=demo.fields["system_prompt"], tools=tools,
                        knowledge=[(k["question"], k["answer"]) for k in demo.knowledge],
                        business_hours=demo.fields["business_hours"],
                        timezone=demo.fields["timezone"], now=NOW)


def same_value(expected: str, actual: Any) -> bool:
    """A labelled slot value against what the brain filled: dates by their leading part
    ("2026-12-03T10:00" matches "2026-12-03T10:00:00-05:00"), words without case."""
    if actual is None:
        return False
    actual_text = str(actual)
    return actual_text.lower() == expected.lower() or actual_text.startswith(expected) or (
        len(expected) > 12 and expected.lower() in actual_text.lower())


def argument_schema(demo: DemoAgent, name: str) -> dict[str, Any] | None:
    """The JSON Schema of the argument `name` of the first of the agent's tools that takes it."""
    return next((tool["parameters"]["properties"][name] for tool in demo.tools
                 if name in tool["parameters"].get("properties", {})), None)


def recogniser_vocabulary(demo: DemoAgent) -> list[str]:
    """The phrases of the agent's own language model, as a call of it builds them."""
    base = conversation_for(demo)
    return stt_vocabulary(base.knowledge, base.tools,
                          demo.fields.get("recognition_keywords", ()))


def fill_value(demo: DemoAgent, name: str, said: str, clock: Clock) -> Any:
    """What the brain makes of `said` as the answer to its question for the argument `name`:
    the value, an `Invalid`, or None when none of the agent's tools takes that argument."""
    schema = argument_schema(demo, name)
    return argument_value(name, schema, said, None, clock) if schema else None


def filled_as(expected: str, value: Any) -> bool:
    return value is not None and not isinstance(value, Invalid) and same_value(expected, value)


def first_reply(demo: DemoAgent, said: str):
    """The brain's reply to `said` as the first words of a call."""
    conversation = conversation_for(demo)
    conversation.messages = [Message(role="user", text=said)]
    return plan(conversation)


def evaluate_text(demo: DemoAgent, utterances: list[Utterance]) -> TextReport:
    report = TextReport(agent=demo.key)
    clock = clock_of(conversation_for(demo))
    for utterance in utterances:
        if utterance.intent == "fill":
            report.fills += 1
            for name, expected in utterance.slots.items():
                value = fill_value(demo, name, utterance.text, clock)
                ok = filled_as(expected, value)
                report.slots.add(ok)
                if not ok:
                    got = value.hint if isinstance(value, Invalid) else value
                    report.misses.append(f"{utterance.where} slot {name}: {utterance.text!r} → "
                                         f"{got!r}, expected {expected!r}")
            continue
        reply = first_reply(demo, utterance.text)
        ok = reply.intent == utterance.intent
        report.intents.add(ok)
        if not ok:
            report.misses.append(f"{utterance.where} intent: {utterance.text!r} → "
                                 f"{reply.intent} ({reply.text[:60]!r}), expected "
                                 f"{utterance.intent}")
        for name, expected in utterance.slots.items():
            good = same_value(expected, reply.slots.get(name))
            report.slots.add(good)
            if not good:
                report.misses.append(f"{utterance.where} slot {name}: {utterance.text!r} → "
                                     f"{reply.slots.get(name)!r}, expected {expected!r}")
        if utterance.expect:
            held = utterance.expect.lower() in reply.text.lower()
            report.answers.add(held)
            if not held:
                report.misses.append(f"{utterance.where} answer: {utterance.text!r} → "
                                     f"{reply.text[:70]!r}, expected {utterance.expect!r}")
    return report
