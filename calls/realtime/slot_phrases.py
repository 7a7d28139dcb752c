"""What callers say when they answer a tool's questions — days and times, counts of people, the
options of a choice — as phrases for the offline recogniser's per-agent language model, so
"next Tuesday at ten in the morning" is heard as well as the agent's own questions are; and, per
question, the answers it expects (`answer_phrases`, `YES_NO_PHRASES`), which the offline brain
hands the recogniser for the caller's next turn (`offline/answers.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from calls.realtime.backchannel import RECOGNISER_PHRASES
from calls.realtime.providers.llm.base import ToolSpec
from calls.realtime.providers.llm.offline.answers import YES_NO_PHRASES, answer_phrases
from calls.realtime.providers.llm.offline.tool_kinds import kind_of
from calls.realtime.providers.llm.offline.when import DATE_FORMATS

# How callers ask for what the offline brain does in any business (its intents): written once,
# generic, so the recogniser expects "put me through to someone" as much as the agent's own
# questions. Not the evaluation sets' sentences.
INTENT_PHRASES: tuple[str, ...] = (
    "can i speak to a person", "i want to talk to a human", "put me through to someone",
    "transfer me please", "can i talk to the manager", "let me speak to someone",
    "i'd like to speak to a member of staff", "is there someone i can talk to",
    "that's all thank you", "thanks bye", "goodbye", "have a nice day", "that's everything",
    "thanks that's it", "that's it bye",
    "i need to cancel", "i can't make it", "i won't be able to make it", "cancel my booking",
    "i need to change my booking", "can i move it to another day", "a different time",
    "i want to make a complaint", "i'm not happy with", "it was terrible", "i'd like a refund",
    "it's not working", "it won't turn on", "i can't log in", "it keeps crashing",
    "there's a problem with", "it hurts", "i'm in pain", "it's broken",
    "yes please", "no thank you", "that's right", "that's correct", "go ahead", "i don't mind",
    "i'd rather not", "sorry can you repeat that", "what did you say",
)


# The words the brain's intents listen for (`offline/intents.py`: `_HUMAN`, `COMPLAINT`,
# `PROBLEM`) in sentences callers say them in: a word the brain acts on that the recogniser's
# model lacks can never be heard ("operator", "rude", "frozen" were in no demo agent's model).
HUMAN_PHRASES: tuple[str, ...] = (
    "can i speak to an operator", "i'd like to talk to a representative", "a real person please",
    "is there an actual human", "can i talk to a live agent", "customer service please",
    "connect me to somebody from support", "can you transfer me to the front desk",
    "patch me through to the office", "put me through to reception",
    "is there anybody i can chat with", "can anyone on your team help",
    "can i speak to a technician", "i need an engineer", "let me talk to the receptionist",
    "can i speak to the dentist", "i'd like a word with the doctor",
)
COMPLAINT_PHRASES: tuple[str, ...] = (
    "i want to complain", "i'm very unhappy with the service", "i'm really disappointed",
    "that was awful", "it was horrible", "the staff were rude", "i was overcharged",
    "i'm not happy at all", "i'm never coming back", "the worst service ever",
    "the food was cold", "my order was wrong", "i got sick", "we fell ill",
    "the steak was raw", "it was undercooked", "the fish was overcooked", "the toast was burnt",
    "i think it was food poisoning",
)
# Ending the call, thanking, greeting, dropping a request, asking to hear it again: each way the
# brain's `GOODBYE`, `THANKS`, `GREETING`, `CANCEL` and `REPEAT` take them, in the few words
# callers say them in ("bye for now", "cheers, see you" were heard as "my screen ill", "care and
# email": the agents' models knew the words but hardly any sentence ending a call).
CONVERSATION_PHRASES: tuple[str, ...] = (
    "bye", "bye bye", "bye now", "okay bye", "that's all", "that's it",
    "that's all thanks", "that's it thanks", "nothing else",
    "no nothing else thanks", "i'm done", "i'm all done", "i'll hang up", "you can hang up now",
    "have a good day", "have a nice one", "have a great weekend", "have a lovely evening",
    "have a good night", "see you", "see you soon", "see you later", "talk to you later",
    "thank you", "thanks", "thank you very much", "thanks so much", "thanks a lot", "cheers",
    "okay thanks", "great thank you", "perfect thanks",
    "hello", "hi there", "good morning", "good afternoon", "hey",
    "never mind", "forget it", "cancel that", "stop", "no forget about it",
    "pardon", "say that again", "come again", "can you repeat that please", "excuse me",
    "hello is anyone there", "are you still there", "can you hear me",
    "hi i need help", "can you help me", "i need some assistance",
)
# Faults, for an agent whose tool takes problem reports (the brain opens a ticket for them).
FAULT_PHRASES: tuple[str, ...] = (
    "i'm getting an error", "the screen is frozen", "it keeps freezing", "it's really slow",
    "i'm locked out", "i got a blue screen", "i think i have a virus", "i've been hacked",
    "i clicked a phishing link", "there's no internet", "it keeps dropping",
    "it keeps disconnecting", "it keeps restarting", "the system is down", "is there an outage",
    "it stopped working", "it won't connect", "it won't print", "it won't sync",
    "my laptop won't boot", "the page won't load", "my phone won't charge", "i can't sign in",
    "i can't access", "i can't send or receive", "i can't hear anything", "i'm unable to log in",
    "i have an issue with", "something went wrong", "it's not charging", "it's not loading",
    "it's not responding", "the monitor isn't displaying anything", "it's faulty",
    "i spilled coffee on it", "my email isn't syncing", "it isn't connecting",
    "the printer isn't printing", "it's not updating", "it's not sending or receiving",
    "my laptop isn't booting", "i clicked a suspicious link", "i got a fake email",
    "i think it's a scam", "it was a dodgy link", "my account got locked",
    "i need permission to the folder", "can someone look at my computer",
)
# Symptoms, for an agent with no such tool (the brain offers a visit, `offline/responses.py`).
SYMPTOM_PHRASES: tuple[str, ...] = (
    "it's hurting", "i have a toothache", "my tooth aches", "it's aching", "it's sore",
    "my jaw hurts", "my gums are bleeding", "it's swollen", "there's some swelling",
    "i broke a tooth", "i chipped my tooth", "my tooth is cracked", "it's an emergency",
    "my teeth are sensitive", "i think it's an abscess", "i'm in agony", "it's throbbing",
    "the pain is killing me", "i lost a filling", "my crown fell out",
    "there's a lump on my gum",
)

# A choice picked by its place in the question ("low, normal or urgent?" - "the middle one"), as
# the brain's `_pick_enum` reads it (`offline/slots.py`), for agents whose tools have options.
CHOICE_PHRASES: tuple[str, ...] = (
    "the first one", "the second one", "the third one", "the last one", "the middle one",
)

# How callers put a word of their own business in a sentence: neutral frames (no claim that the
# thing is broken or wanted), so a keyword is expected alone, after "my" and after "about the".
# With nine frames (also "the {}", "my {} is", "my {} won't"...) the keywords outweighed the
# agent's own sentences (the restaurant's WER went from 30.8 to 35.4 %); three keep the gain.
KEYWORD_FRAMES: tuple[str, ...] = ("{}", "my {}", "about the {}")


def keyword_phrases(keywords: Iterable[str]) -> list[str]:
    """The agent's recognition keywords in the frames callers put them in."""
    return [frame.format(keyword.strip()) for keyword in keywords for frame in KEYWORD_FRAMES
            if keyword.strip()]


# How callers report a fault with one of the things the business lists, for agents with a tool
# that opens a ticket or reports a problem; few frames, for the reason above.
PROBLEM_FRAMES: tuple[str, ...] = ("my {} is not working", "the {} isn't working",
                                   "there's a problem with my {}")


def _takes_problems(tools: Iterable[ToolSpec]) -> bool:
    return any(kind_of(tool) == "problem" for tool in tools)


def problem_phrases(tools: Iterable[ToolSpec], keywords: Iterable[str]) -> list[str]:
    """The agent's keywords in fault reports, if one of its tools takes problems."""
    if not _takes_problems(tools):
        return []
    return [frame.format(keyword.strip()) for keyword in keywords for frame in PROBLEM_FRAMES
            if keyword.strip()]


def _intent_phrases(thing: str) -> list[str]:
    """How callers ask about the thing a tool books or opens (an appointment, a table)."""
    return [f"when is my {thing}", f"what time is my {thing}", f"cancel my {thing}",
            f"change my {thing}", f"reschedule my {thing}", f"move my {thing}",
            f"i need to cancel my {thing}"]


def slot_phrases(tools: Sequence[ToolSpec]) -> list[str]:
    """Phrases for every argument the offline brain asks callers for, for the requests around
    what the tools book ("when is my appointment", "cancel my table"), for what the brain's
    intents listen for (a person, a complaint, a fault or a symptom, a goodbye, thanks), and
    for a choice picked by its place ("the middle one")."""
    phrases: list[str] = [*INTENT_PHRASES, *HUMAN_PHRASES, *COMPLAINT_PHRASES,
                          *CONVERSATION_PHRASES,
                          *(FAULT_PHRASES if _takes_problems(tools) else SYMPTOM_PHRASES),
                          *RECOGNISER_PHRASES, *YES_NO_PHRASES]
    dates_added = choices_added = False
    for tool in tools:
        words = tool.name.lower().replace("-", "_").split("_")
        if len(words) >= 2 and words[0] in ("book", "create", "reserve", "schedule", "open"):
            phrases += _intent_phrases(" ".join(words[1:]))
        for name, schema in tool.parameters.get("properties", {}).items():
            if not isinstance(schema, dict) or schema.get("type") == "boolean":
                continue  # a yes or a no: YES_NO_PHRASES are in already
            is_date = schema.get("format") in DATE_FORMATS
            if is_date and dates_added:
                continue
            dates_added = dates_added or is_date
            phrases += answer_phrases(name, schema)
            if len(schema.get("enum") or ()) >= 2 and not choices_added:
                phrases += CHOICE_PHRASES
                choices_added = True
    return phrases
